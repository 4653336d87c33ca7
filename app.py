"""Entry point for `flask --app app ...` and `gunicorn app:app`."""

from statuspage import create_app

app = create_app()
