"""The public site: status page, incident pages, history, feeds, badges, the maintenance
calendar, subscriptions, the /api/v2 JSON, the public cache and the static snapshot.

The blueprint is in `blueprint.py`, the route modules that fill it are listed in `routes.py`.
This module imports nothing, so the Flask-free modules here (`api_v2_format`, `queries`)
load without Flask.
"""
