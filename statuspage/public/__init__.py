"""The public site: status page, incident pages, history, feeds, badges, the maintenance
calendar, subscriptions, the /api/v2 JSON and the public cache (the static snapshot is
`statuspage.snapshot`).

The blueprint is in `blueprint.py`, the route modules that fill it are listed in `routes.py`.
This module imports nothing, so the Flask-free modules here (`api_v2_format`, `queries`)
load without Flask.
"""
