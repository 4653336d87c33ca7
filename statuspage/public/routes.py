"""The public blueprint with every public route on it: `create_app` registers `bp` from here.

Each module below adds its routes to `bp` (`statuspage.public.blueprint`) when imported.
Importing `statuspage.public` itself loads none of them, so its Flask-free modules
(`api_v2_format`, `queries`) stay usable from the worker and the CLI without Flask.
"""

from __future__ import annotations

from statuspage.public import (
    badges,
    calendar,
    channels,
    chat,
    feeds,
    language,
    sign_in,
    sign_in_oidc,
    subscriptions,
    translated,
    views,
    widget,
)
from statuspage.public.blueprint import bp

ROUTE_MODULES = (
    views,
    badges,
    feeds,
    calendar,
    subscriptions,
    channels,
    chat,
    sign_in,
    sign_in_oidc,
    translated,
    language,
    widget,
)

__all__ = ["ROUTE_MODULES", "bp"]
