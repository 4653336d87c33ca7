"""Jinja filters and globals: times with their zone, durations, Markdown, status words."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from statuspage.components.models import COMPONENT_STATUS_LABELS, ComponentStatus
from statuspage.core.rendering import render_markdown

if TYPE_CHECKING:
    from flask import Flask


def iso8601(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_text(value: datetime, with_date: bool = True) -> str:
    value = value.astimezone(UTC)
    if with_date:
        return f"{value.day} {value:%b %Y, %H:%M} UTC"
    return f"{value:%H:%M} UTC"


def human_duration(value: timedelta | float | None) -> str:
    """'2 h 5 min', '45 min', '3 d 4 h'; minutes when given a number."""
    if value is None:
        return ""
    minutes = value.total_seconds() / 60 if isinstance(value, timedelta) else float(value)
    minutes = int(round(minutes))
    if minutes < 1:
        return "less than a minute"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} d")
    if hours:
        parts.append(f"{hours} h")
    if mins and not days:
        parts.append(f"{mins} min")
    return " ".join(parts)


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
