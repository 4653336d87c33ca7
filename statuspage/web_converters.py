"""Whole numbers from URLs and query strings, bounded by what the database can hold.

Every id column is an `integer`: PostgreSQL refuses to compare one with a number past 2^31 - 1
(NumericValueOutOfRange, a 500), and SQLite overflows past 2^63. So an id outside 1..MAX_ID
cannot exist and is answered before any query: `IdConverter` is the app's `int` converter (every
`<int:...>` rule 404s outside the range), and `id_arg` / `page_arg` read query parameters
(400 with a message naming the parameter).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NoReturn

from werkzeug.routing import IntegerConverter, ValidationError

if TYPE_CHECKING:
    from flask import Flask
    from werkzeug.routing import Map

MAX_ID = 2**31 - 1  # PostgreSQL's `integer`, the type of every id column
MAX_PAGE = MAX_ID  # (page - 1) * per_page stays far inside OFFSET's bigint
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,30}")  # ASCII digits only; int() takes more


# Exactly 1..2147483647 (no sign, no leading zero). An id out of range then matches no rule at
# all: werkzeug answers 404 whatever the method, where a converter that refuses only after the
# match can make it a 405 for a path that has other methods on other rules.
ID_PATTERN = (
    r"(?:[1-9][0-9]{0,8}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}"
    r"|2147[0-3][0-9]{5}|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}"
    r"|21474836[0-3][0-9]|214748364[0-7])"
)


class IdConverter(IntegerConverter):
    """`<int:...>` limited to 1..MAX_ID unless a rule asks for other bounds."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = 1,
        max: int | None = MAX_ID,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
        if (fixed_digits, min, max, signed) == (0, 1, MAX_ID, False):
            self.regex = ID_PATTERN

    def to_python(self, value: str) -> Any:
        if len(value) > 30:  # past any bound; spares int() a huge string
            raise ValidationError()
        return super().to_python(value)


def register(app: Flask) -> None:
    """Make `IdConverter` the app's `int`. Call before any blueprint adds its rules."""
    app.url_map.converters["int"] = IdConverter


def _bad(name: str, raw: str, minimum: int, maximum: int) -> NoReturn:
    from flask import abort

    abort(
        400,
        description=(
            f"The parameter {name!r} must be a whole number from {minimum} to {maximum}, "
            f"not {raw[:40]!r}."
        ),
    )


def _whole_number(name: str, raw: str, minimum: int, maximum: int) -> int:
    text = raw.strip()
    if not _WHOLE_NUMBER.fullmatch(text):
        _bad(name, raw, minimum, maximum)
    return int(text)


def bounded_int(name: str, raw: str, *, minimum: int = 1, maximum: int = MAX_ID) -> int:
    """`raw` as a whole number in minimum..maximum; 400 naming `name` when it is not."""
    value = _whole_number(name, raw, minimum, maximum)
    if not minimum <= value <= maximum:
        _bad(name, raw, minimum, maximum)
    return value


def id_arg(name: str) -> int | None:
    """The query parameter `name` as an id (1..MAX_ID), None when absent or empty."""
    from flask import request

    raw = request.args.get(name, "").strip()
    return bounded_int(name, raw) if raw else None


def page_arg(name: str = "page") -> int:
    """The page number from the query string: 1 when absent; a page before the first is the
    first page (as it always was); past MAX_PAGE, or not a whole number, is a 400."""
    from flask import request

    raw = request.args.get(name, "").strip()
    if not raw:
        return 1
    value = _whole_number(name, raw, 1, MAX_PAGE)
    if value > MAX_PAGE:
        _bad(name, raw, 1, MAX_PAGE)
    return max(1, value)
