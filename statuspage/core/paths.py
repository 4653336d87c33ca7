"""Where the checkout is: templates, instance folder, `.env`, migrations are found from here."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
