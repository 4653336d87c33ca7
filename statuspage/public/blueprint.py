"""The public site's blueprint. It imports nothing of ours: every route module imports `bp`
from here, and `statuspage.public.routes` imports the route modules, so there is no cycle."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("public", __name__)
