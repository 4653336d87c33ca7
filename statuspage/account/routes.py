"""The account blueprint with every route on it: `create_app` registers `bp` from here.

Each module below adds its routes to `bp` (`statuspage.account.blueprint`) when imported.
"""

from __future__ import annotations

from statuspage.account import language, single_sign_on, time_zone, two_factor, views
from statuspage.account.blueprint import bp

ROUTE_MODULES = (views, two_factor, time_zone, language, single_sign_on)

__all__ = ["ROUTE_MODULES", "bp"]
