"""Text shapes shared by the domain."""

from __future__ import annotations


def single_line(value: str | None) -> str:
    """`value` for a one-line field (a title, a name): every line break folded into one space,
    the ends trimmed.

    The line breaks are those of `str.splitlines` (CR, LF, CRLF, VT, FF, the file/group/record
    separators, NEL, U+2028 and U+2029): a name travels into headers, feeds, calendars and
    other people's line-based files, where a raw break splits a record.
    """
    return " ".join(part for part in (line.strip() for line in (value or "").splitlines()) if part)
