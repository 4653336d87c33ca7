"""Times and durations in words, the same on pages, in feeds and in email."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


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
