"""What every chat and SMS builder is given: one neutral message, built once per notification.

The builders (`slack`, `teams`, `discord`, `sms`) turn a `ChannelMessage` into the payload
their service documents; none of them reads the database. `body_markdown` is the staff-written
Markdown source (the same text the pages render through `core.rendering`): each builder
converts it to its client's own markup with `channels.markup`, never by pasting HTML.

A message is written in one `language` (the subscription's): the builders take their fixed
words from `ChannelMessage.gettext` (the catalogs in `translations/`, as emails do), the status
and component words come translated, and the time is formatted for the language.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_skeleton

from statuspage.core import translation
from statuspage.core.languages import SOURCE_LANGUAGE
from statuspage.core.translation import N_


class EventKind(enum.StrEnum):
    INCIDENT = "incident"
    MAINTENANCE = "maintenance"
    COMPONENT = "component"
    STAKEHOLDER = "stakeholder"  # an internal summary to a stakeholder list's channel


LINK_LABELS = {
    EventKind.MAINTENANCE: N_("View maintenance"),
    EventKind.STAKEHOLDER: N_("Open the incident (staff)"),
}
DEFAULT_LINK_LABEL = N_("View on status page")
# The impact beside the status ("Impact: Major"); the API's words stay the values.
IMPACT_WORDS = {
    "minor": N_("Minor"),
    "major": N_("Major"),
    "critical": N_("Critical"),
    "maintenance": N_("Maintenance"),
}


@dataclass(frozen=True)
class AffectedComponent:
    name: str
    status_label: str  # in words ("Partial outage"), never a colour alone


@dataclass(frozen=True)
class ChannelMessage:
    kind: EventKind
    page_name: str
    title: str
    status: str  # the machine word: investigating, scheduled, partial_outage, ...
    status_label: str  # the same in words: "Investigating"
    url: str  # the incident's (maintenance's, component's) public page; a summary: staff page
    occurred_at: datetime  # aware
    time_zone: str = "UTC"  # the page's zone name (IANA), used to print `occurred_at`
    impact: str = ""  # none, minor, major, critical, maintenance ("" when it has none)
    body_markdown: str = ""
    components: tuple[AffectedComponent, ...] = field(default_factory=tuple)
    manage_url: str = ""  # the subscriber's own link to change or end the subscription
    language: str = SOURCE_LANGUAGE  # what the fixed words and the time are written in

    def gettext(self, message: str, /, **variables: object) -> str:
        """`message` (a msgid) in the message's language, `%(name)s` filled in."""
        return translation.gettext(message, self.language, **variables)

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise ValueError("occurred_at must be timezone-aware")

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.time_zone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    @property
    def local_time(self) -> datetime:
        return self.occurred_at.astimezone(self.zone)

    def time_text(self) -> str:
        """ "4 Dec 2026, 14:05 CET (Europe/Paris)": the page's zone, named; the date and time
        as the message's language writes them (English keeps the site's house style)."""
        local = self.local_time
        name = self.zone.key
        abbreviation = local.tzname() or name
        zone = abbreviation if abbreviation == name else f"{abbreviation} ({name})"
        if self.language == SOURCE_LANGUAGE:
            return f"{local.day} {local:%b %Y, %H:%M} {zone}"
        try:
            time = format_skeleton("Hm", local, tzinfo=self.zone, locale=self.language)
            day = format_skeleton("yMMMd", local, tzinfo=self.zone, locale=self.language)
            pattern = Locale.parse(self.language).datetime_formats["medium"]
        except (ValueError, LookupError):
            return f"{local.day} {local:%b %Y, %H:%M} {zone}"
        return f"{pattern.format(time, day)} {zone}"

    @property
    def impact_label(self) -> str:
        if not self.impact:
            return ""
        word = IMPACT_WORDS.get(self.impact)
        return self.gettext(word) if word else self.impact.replace("_", " ").capitalize()

    @property
    def link_label(self) -> str:
        """The button to `url`: the public page, or the staff page for a summary."""
        return self.gettext(LINK_LABELS.get(self.kind, DEFAULT_LINK_LABEL))

    def more_text(self, count: int) -> str:
        """ "and 3 more" (components left out of a list), in the message's language."""
        return translation.ngettext("and %(num)s more", "and %(num)s more", count, self.language)

    @property
    def heading(self) -> str:
        """ "[Investigating] API errors": the status first, as the email subjects do."""
        return f"[{self.status_label}] {self.title}"


def shorten(text: str, limit: int, *, ellipsis: str = "…") -> str:
    """`text` in at most `limit` characters, cut at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    room = max(limit - len(ellipsis), 0)
    cut = text[:room]
    space = cut.rfind(" ")
    # A single word longer than the room (a URL, say) is cut where it must be.
    if space > room // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + ellipsis


def _english_more(count: int) -> str:
    return f"and {count} more"


def components_text(
    components: tuple[AffectedComponent, ...],
    limit: int,
    *,
    separator: str = "\n",
    more: Callable[[int], str] = _english_more,
) -> str:
    """One "Name: Status" per component within `limit` characters, then "and N more"
    (`more`: `ChannelMessage.more_text` for the message's language)."""
    lines = [f"{component.name}: {component.status_label}" for component in components]
    shown: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        rest = len(lines) - index - 1
        tail = len(separator) + len(more(rest)) if rest else 0
        cost = len(line) + (len(separator) if shown else 0)
        if used + cost + tail > limit:
            shown.append(more(len(lines) - index))
            break
        shown.append(line)
        used += cost
    return separator.join(shown)
