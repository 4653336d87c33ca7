"""Page arithmetic shared by the paged lists (incidents, subscribers)."""

from __future__ import annotations

import math


class Paged:
    """For a dataclass with `page` (from 1), `per_page` and `total`: the page links."""

    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def clamp_page(page: int, total: int, per_page: int) -> int:
    """`page` moved into 1..last page (an empty list has one, empty, page)."""
    return max(1, min(page, math.ceil(total / per_page) or 1))
