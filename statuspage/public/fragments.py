"""The front page's component blocks, rendered once per content and language.

A publish changes one incident and a few components, and the next render of `/` used to draw
all fifty blocks again: their bars, numbers and words, about two thirds of the template's
time. A block is now drawn from a `ComponentCard`, a frozen record of everything it shows,
and kept per (card, language, script root): what the block can show is what the key holds,
so a kept block is always the one a new render would make. A changed status, name or day of
the bar is another card, and so another block.

The blocks are kept per app, at most `FRAGMENTS_KEPT` of them, least recently used out
first. Public readers and members share them: a member's "Visible to ..." words are part of
the card.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app, has_request_context, request
from markupsafe import Markup, escape

from statuspage.core.timetext import uptime_hundredths
from statuspage.templating import page_language

if TYPE_CHECKING:
    from statuspage.components.models import ComponentStatus
    from statuspage.components.uptime import UptimeBar
    from statuspage.public.queries import ComponentView

TEMPLATE = "public/_component.html"
# 50 components in 5 languages is 250; days and statuses change the rest.
FRAGMENTS_KEPT = 2048
_EXTENSION = "statuspage.component_fragments"


@dataclass(frozen=True, slots=True)
class ComponentCard:
    """All that a component's block on the front page shows."""

    id: int
    name: str
    description: str | None
    status: ComponentStatus
    showcase: bool
    bar: UptimeBar
    # The uptime as shown (hundredths of a percent, rounded down), not the exact figure: that
    # grows with every minute of today and would make every render a new card.
    uptime_hundredths: int | None
    day_count: int
    mark: Markup  # the audience words ("Visible to ... only"), rendered; empty when public

    @classmethod
    def of(cls, view: ComponentView, mark: str) -> ComponentCard:
        component = view.component
        return cls(
            id=component.id,
            name=component.name,
            description=component.description,
            status=component.status,
            showcase=bool(component.showcase),
            bar=view.bar,
            uptime_hundredths=uptime_hundredths(view.uptime.uptime_percent),
            day_count=view.uptime.day_count,
            mark=escape(mark),  # the macro's own output stays as it is
        )


class _Kept:
    def __init__(self, size: int) -> None:
        self.size = size
        self.blocks: OrderedDict[tuple[Any, ...], Markup] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Markup | None:
        with self.lock:
            found = self.blocks.get(key)
            if found is not None:
                self.blocks.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], block: Markup) -> None:
        with self.lock:
            self.blocks[key] = block
            self.blocks.move_to_end(key)
            while len(self.blocks) > self.size:
                self.blocks.popitem(last=False)


def _kept() -> _Kept:
    extensions = current_app.extensions
    kept = extensions.get(_EXTENSION)
    if kept is None:
        kept = extensions.setdefault(_EXTENSION, _Kept(FRAGMENTS_KEPT))
    return kept


def component_block(view: ComponentView, mark: str = "") -> Markup:
    """The block of one component (template global `component_block`)."""
    card = ComponentCard.of(view, mark)
    # The script root is part of each link; without a request (a render in an app context
    # alone) the links are the app's own.
    root = request.script_root if has_request_context() else ""
    key = (card, page_language(), root)
    kept = _kept()
    block = kept.get(key)
    if block is None:
        macro = current_app.jinja_env.get_template(TEMPLATE).module.component_block  # type: ignore[attr-defined]
        block = macro(card)  # Markup: the environment escapes
        kept.put(key, block)
    return block


def register(app: Any) -> None:
    app.add_template_global(component_block, "component_block")
