"""Text written into CSV exports that a spreadsheet must not run as a formula."""

from __future__ import annotations

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralize_cell(value: str) -> str:
    """Keep a spreadsheet from running a cell as a formula: prefix it with a quote (OWASP)."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value
