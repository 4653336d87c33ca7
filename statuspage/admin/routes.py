"""The admin blueprint with every admin route on it: `create_app` registers `bp` from here.

Each module below adds its routes to `bp` (defined, with the login guard, in
`statuspage.admin`) when imported.
"""

from __future__ import annotations

from statuspage.admin import (
    audiences,
    bp,
    branding,
    channels,
    components,
    dashboard,
    deliveries,
    importing,
    incident_list,
    incidents,
    maintenance,
    problems,
    reviews,
    settings,
    stakeholder_channels,
    stakeholders,
    subscribers,
    tokens,
    translations,
    updates,
    users,
)

ROUTE_MODULES = (
    audiences,
    branding,
    channels,
    components,
    dashboard,
    deliveries,
    importing,
    incident_list,
    incidents,
    maintenance,
    problems,
    reviews,
    settings,
    stakeholder_channels,
    stakeholders,
    subscribers,
    tokens,
    translations,
    updates,
    users,
)

__all__ = ["ROUTE_MODULES", "bp"]
