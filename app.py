"""Entry point for `flask --app app ...` and `gunicorn app:app`."""

import sys

from statuspage import create_app
from statuspage.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    # One line that names the setting, not a traceback.
    print(f"Configuration error: {error}", file=sys.stderr)
    raise SystemExit(2) from None
