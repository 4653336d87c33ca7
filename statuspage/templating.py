"""Jinja filters and globals: times with their zone, durations, Markdown, status words."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from statuspage.components.models import COMPONENT_STATUS_LABELS, ComponentStatus
from statuspage.core.rendering import render_markdown
from statuspage.core.timetext import human_duration, utc_text

if TYPE_CHECKING:
    from flask import Flask


def iso8601(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def uptime_percent(value: float | None) -> str:
    """Two decimals, rounded down: any downtime at all never shows as 100.00%."""
    if value is None:
        return "No data"
    return f"{math.floor(value * 100) / 100:.2f}%"


def status_label(value: str) -> str:
    try:
        return COMPONENT_STATUS_LABELS[ComponentStatus(value)]
    except ValueError:
        return str(value).replace("_", " ").capitalize()


def init_app(app: Flask) -> None:
    app.jinja_env.filters["iso8601"] = iso8601
    app.jinja_env.filters["utc_text"] = utc_text
    app.jinja_env.filters["duration"] = human_duration
    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.filters["status_label"] = status_label
    app.jinja_env.filters["uptime_percent"] = uptime_percent
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
