"""The account blueprint. It imports nothing of ours: the route modules import `bp` from here,
and `statuspage.account.routes` imports the route modules, so there is no cycle."""

from __future__ import annotations

from flask import Blueprint

# Named "auth" since before the views left statuspage/auth/: endpoints stay `auth.login`, ...
bp = Blueprint("auth", __name__)
