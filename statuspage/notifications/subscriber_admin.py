"""The staff side of email subscribers: the list and its counts, CSV export and import, removal.

Flask-free, like the rest of the domain: functions take the session, the acting user's id and
`now`, flush and never commit. Addresses are personal data, so they never reach a log line or
an audit row: audit rows name the subscriber by id only (a removed subscriber's address is
gone for good), and log lines carry counts and the actor.

States (exclusive, the strongest wins): suppressed (the provider reported a bounce, a drop, a
spam report or an unsubscribe), unsubscribed, unconfirmed (no confirmation yet), active.

Import: rows are independent. A malformed row is reported with its line number and skipped;
the valid rows are added in the caller's one transaction. A file that cannot be read as CSV,
or has no `email` column, is refused as a whole and nothing is written. An address already
known in any state, unsubscribed and suppressed included, is left alone: importing must not
undo anyone's unsubscribe.

A subscriber export from Atlassian Statuspage imports as it is: its address column is found by
name (`email`, or the one column whose name mentions email, such as "Email address"), rows of
other kinds of subscriber (sms, webhook, slack, teams) are skipped with that reason, and its
components may be listed with commas, by name or by the Statuspage id the page import
remembered (`component_aliases`).
"""

from __future__ import annotations

import csv
import enum
import io
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from statuspage.auth.models import User
from statuspage.components.models import Component, ComponentGroup
from statuspage.core.csv_safety import FORMULA_PREFIXES, neutralize_cell
from statuspage.core.errors import DomainError, NotFound
from statuspage.core.paging import Paged, clamp_page
from statuspage.core.records import record_audit
from statuspage.core.translation import N_
from statuspage.notifications import subscriptions
from statuspage.notifications.models import Subscriber, subscriber_component, subscriber_group

logger = logging.getLogger(__name__)

PER_PAGE = 50
SEARCH_MAX = 254
EXPORT_CHUNK = 500
IMPORT_MAX_BYTES = 2 * 1024 * 1024
IMPORT_MAX_ROWS = 20_000
NAME_SEPARATOR = ";"
ENTITY = "subscriber"
# Export audit rows concern the whole list rather than one subscriber.
WHOLE_LIST_ID = 0


class SubscriberState(enum.StrEnum):
    ACTIVE = "active"
    UNCONFIRMED = "unconfirmed"
    UNSUBSCRIBED = "unsubscribed"
    SUPPRESSED = "suppressed"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    SubscriberState.ACTIVE: "Active",
    SubscriberState.UNCONFIRMED: "Not confirmed yet",
    SubscriberState.UNSUBSCRIBED: "Unsubscribed",
    SubscriberState.SUPPRESSED: "Suppressed",
}

_NOT_LEFT = sa.and_(Subscriber.unsubscribed_at.is_(None), Subscriber.suppressed_at.is_(None))
STATE_CONDITIONS: dict[SubscriberState, sa.ColumnElement[bool]] = {
    SubscriberState.ACTIVE: sa.and_(Subscriber.confirmed_at.is_not(None), _NOT_LEFT),
    SubscriberState.UNCONFIRMED: sa.and_(Subscriber.confirmed_at.is_(None), _NOT_LEFT),
    SubscriberState.UNSUBSCRIBED: sa.and_(
        Subscriber.unsubscribed_at.is_not(None), Subscriber.suppressed_at.is_(None)
    ),
    SubscriberState.SUPPRESSED: Subscriber.suppressed_at.is_not(None),
}


def state_of(subscriber: Subscriber) -> SubscriberState:
    if subscriber.suppressed_at is not None:
        return SubscriberState.SUPPRESSED
    if subscriber.unsubscribed_at is not None:
        return SubscriberState.UNSUBSCRIBED
    if subscriber.confirmed_at is None:
        return SubscriberState.UNCONFIRMED
    return SubscriberState.ACTIVE


def normalize_email(raw: str) -> str | None:
    """The address as stored, or None when the public subscribe form would refuse it too:
    one rule for both ways in (`subscriptions.normalize_email`)."""
    try:
        return subscriptions.normalize_email(raw)
    except DomainError:
        return None


# --- the list ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriberFilters:
    search: str = ""  # a substring of the address; % and _ match literally
    state: SubscriberState | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        where: list[sa.ColumnElement[bool]] = []
        if self.search:
            # Addresses are stored lower-cased: a plain LIKE on the lower-cased text matches
            # case-insensitively on both databases.
            where.append(Subscriber.email.contains(self.search.lower(), autoescape=True))
        if self.state is not None:
            where.append(STATE_CONDITIONS[self.state])
        return where


@dataclass(frozen=True)
class SubscriberRow:
    id: int
    email: str
    state: SubscriberState
    suppressed_reason: str
    all_components: bool
    component_names: list[str]
    group_names: list[str]
    created_at: datetime
    confirmed_at: datetime | None
    imported: bool
    confirmed_by: str | None  # the admin who imported the address as confirmed

    @property
    def state_text(self) -> str:
        if self.state == SubscriberState.SUPPRESSED and self.suppressed_reason:
            return f"{self.state.label} ({self.suppressed_reason})"
        return self.state.label


@dataclass(frozen=True)
class SubscriberPage(Paged):
    page: int
    per_page: int
    total: int
    rows: list[SubscriberRow]


def _row(subscriber: Subscriber, confirmed_by: str | None) -> SubscriberRow:
    return SubscriberRow(
        id=subscriber.id,
        email=subscriber.email,
        state=state_of(subscriber),
        suppressed_reason=subscriber.suppressed_reason or "",
        all_components=subscriber.all_components,
        component_names=sorted(c.name for c in subscriber.components),
        group_names=sorted(g.name for g in subscriber.groups),
        created_at=subscriber.created_at,
        confirmed_at=subscriber.confirmed_at,
        imported=subscriber.imported,
        confirmed_by=confirmed_by,
    )


def list_subscribers(
    session: Session, filters: SubscriberFilters, *, page: int, per_page: int = PER_PAGE
) -> SubscriberPage:
    """One page of matching subscribers, newest first: four statements whatever the page."""
    where = filters.conditions()
    total = session.scalar(sa.select(sa.func.count(Subscriber.id)).where(*where)) or 0
    page = clamp_page(page, total, per_page)
    found = session.execute(
        sa.select(Subscriber, sa.func.coalesce(sa.func.nullif(User.name, ""), User.email))
        .outerjoin(User, User.id == Subscriber.confirmed_by_id)
        .where(*where)
        .order_by(Subscriber.created_at.desc(), Subscriber.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
        .options(selectinload(Subscriber.components), selectinload(Subscriber.groups))
    ).all()
    rows = [_row(subscriber, confirmed_by) for subscriber, confirmed_by in found]
    return SubscriberPage(page=page, per_page=per_page, total=total, rows=rows)


# --- counts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentCount:
    component_id: int
    name: str
    group_name: str | None
    active: int  # active subscribers who hear about this component


@dataclass(frozen=True)
class SubscriberCounts:
    total: int
    by_state: dict[SubscriberState, int]
    all_components: int  # active subscribers who chose every component
    per_component: list[ComponentCount]

    @property
    def active(self) -> int:
        return self.by_state[SubscriberState.ACTIVE]


def subscriber_counts(session: Session) -> SubscriberCounts:
    """Totals per state and active subscribers per component, with SQL aggregates only.

    A subscriber who chose every component counts for each component; one who chose a group
    counts for each component in it; one who chose a component and also its group counts once.
    """
    state_counts = session.execute(
        sa.select(
            sa.func.count(Subscriber.id),
            *(
                sa.func.count(sa.case((condition, Subscriber.id)))
                for condition in STATE_CONDITIONS.values()
            ),
            sa.func.count(
                sa.case(
                    (
                        sa.and_(
                            STATE_CONDITIONS[SubscriberState.ACTIVE], Subscriber.all_components
                        ),
                        Subscriber.id,
                    )
                )
            ),
        )
    ).one()
    total, *per_state, everything = state_counts
    by_state = dict(zip(STATE_CONDITIONS, (int(n or 0) for n in per_state), strict=True))

    # (component, subscriber) pairs from direct choices and from groups; UNION drops the pairs
    # a subscriber reaches both ways.
    chosen = sa.union(
        sa.select(
            subscriber_component.c.component_id.label("component_id"),
            subscriber_component.c.subscriber_id.label("subscriber_id"),
        ),
        sa.select(
            Component.id.label("component_id"),
            subscriber_group.c.subscriber_id.label("subscriber_id"),
        ).join(Component, Component.group_id == subscriber_group.c.group_id),
    ).subquery("chosen")
    per_chosen = dict(
        session.execute(
            sa.select(chosen.c.component_id, sa.func.count())
            .join(Subscriber, Subscriber.id == chosen.c.subscriber_id)
            .where(STATE_CONDITIONS[SubscriberState.ACTIVE], sa.not_(Subscriber.all_components))
            .group_by(chosen.c.component_id)
        ).all()
    )
    everything = int(everything or 0)
    components = session.execute(
        sa.select(Component.id, Component.name, ComponentGroup.name)
        .outerjoin(ComponentGroup, ComponentGroup.id == Component.group_id)
        .order_by(
            ComponentGroup.position.is_(None),
            ComponentGroup.position,
            ComponentGroup.id,
            Component.position,
            Component.name,
            Component.id,
        )
    ).all()
    per_component = [
        ComponentCount(
            component_id=component_id,
            name=name,
            group_name=group_name,
            active=everything + int(per_chosen.get(component_id, 0)),
        )
        for component_id, name, group_name in components
    ]
    return SubscriberCounts(
        total=int(total or 0),
        by_state=by_state,
        all_components=everything,
        per_component=per_component,
    )


# --- export ------------------------------------------------------------------------------

EXPORT_HEADER = (
    "email",
    "state",
    "all_components",
    "components",
    "groups",
    "created_at",
    "confirmed_at",
)


def _iso(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def export_row(subscriber: Subscriber) -> list[str]:
    """One subscriber as CSV cells, every one safe to open in a spreadsheet."""
    cells = [
        subscriber.email,
        state_of(subscriber).value,
        "yes" if subscriber.all_components else "no",
        NAME_SEPARATOR.join(sorted(c.name for c in subscriber.components)),
        NAME_SEPARATOR.join(sorted(g.name for g in subscriber.groups)),
        _iso(subscriber.created_at),
        _iso(subscriber.confirmed_at),
    ]
    return [neutralize_cell(cell) for cell in cells]


def export_rows(session: Session, filters: SubscriberFilters) -> Iterator[list[str]]:
    """The header, then every matching subscriber by id, read in chunks of EXPORT_CHUNK.

    Each chunk is its own short query (keyset on the id), so a slow download holds no cursor
    open and memory stays flat however many subscribers there are.
    """
    yield list(EXPORT_HEADER)
    after = 0
    while True:
        chunk = session.scalars(
            sa.select(Subscriber)
            .where(Subscriber.id > after, *filters.conditions())
            .order_by(Subscriber.id)
            .limit(EXPORT_CHUNK)
            .options(selectinload(Subscriber.components), selectinload(Subscriber.groups))
        ).all()
        if not chunk:
            return
        for subscriber in chunk:
            yield export_row(subscriber)
        # The session's identity map holds its objects weakly: a chunk is freed once the
        # next one replaces it here.
        after = chunk[-1].id


def csv_text(rows: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def record_export(
    session: Session, filters: SubscriberFilters, *, actor_id: int | None, now: datetime
) -> None:
    """Addresses leaving the site are worth an audit row: who exported, with which filters."""
    record_audit(
        session,
        ENTITY,
        WHOLE_LIST_ID,
        "exported",
        {"state": filters.state.value if filters.state else "all", "search": bool(filters.search)},
        actor_id=actor_id,
        now=now,
    )
    logger.info("Subscriber list exported by user %s", actor_id)


# --- import ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportRow:
    line: int
    email: str
    component_names: tuple[str, ...] = ()
    group_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowProblem:
    line: int
    value: str  # what the row held, shortened, for the admin to find it
    reason: str


@dataclass(frozen=True)
class ParsedImport:
    rows: list[ImportRow]
    problems: list[RowProblem]


@dataclass
class ImportResult:
    confirmed: bool
    added_ids: list[int] = field(default_factory=list)
    present_lines: list[int] = field(default_factory=list)  # known already: left alone
    repeated_lines: list[int] = field(default_factory=list)  # the same address earlier in the file
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def added(self) -> int:
        return len(self.added_ids)


def _names(cell: str | None) -> tuple[str, ...]:
    return tuple(name.strip() for name in (cell or "").split(NAME_SEPARATOR) if name.strip())


def _shorten(value: str, limit: int = 80) -> str:
    value = value.replace("\r", " ").replace("\n", " ")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _undo_neutralize(value: str) -> str:
    """Our own export prefixes formula-like cells with a quote; take it off on the way back."""
    if value.startswith("'") and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


def _column_name(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def _find_column(columns: list[str], name: str, *others: str, exact: bool = False) -> int | None:
    """The column called `name` (or one of `others`); else, unless `exact`, the one column
    whose name contains `name` ("email_address"); None when there is none or it is ambiguous."""
    for wanted in (name, *others):
        if wanted in columns:
            return columns.index(wanted)
    if exact:
        return None
    stem = name.rstrip("s")
    found = [index for index, column in enumerate(columns) if stem in column]
    return found[0] if len(found) == 1 else None


def parse_import(data: bytes, *, max_rows: int = IMPORT_MAX_ROWS) -> ParsedImport:
    """Read an uploaded CSV: a header with `email` (required), `components` and `groups`
    (optional, names separated by ';'); other columns, such as the export's, are ignored.

    Raises DomainError(field="file") when the file as a whole cannot be used.
    """
    try:
        text = data.decode("utf-8-sig")  # a byte order mark (Excel's "CSV UTF-8") is fine
    except UnicodeDecodeError:
        raise DomainError(
            N_("The file is not UTF-8 text. Save it as CSV (UTF-8) and upload it again."),
            field="file",
        ) from None
    if "\x00" in text:
        raise DomainError(N_("The file is not a text CSV file."), field="file")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise DomainError(N_("The file is empty."), field="file")
        columns = [_column_name(name) for name in header]
        email_at = _find_column(columns, "email")
        if email_at is None:
            raise DomainError(
                N_(
                    "The first line must be a header naming an 'email' column "
                    "(and optionally 'components' and 'groups'), separated by commas."
                ),
                field="file",
            )
        for name in ("email", "components", "groups"):
            if columns.count(name) > 1:
                raise DomainError(
                    N_("The header names the column %(name)r twice."), name=name, field="file"
                )
        components_at = _find_column(columns, "components", "component")
        groups_at = columns.index("groups") if "groups" in columns else None
        # Statuspage's exports mix kinds of subscriber in one file; only email ones come here.
        type_at = _find_column(columns, "type", "subscriber_type", "mode", exact=True)

        rows: list[ImportRow] = []
        problems: list[RowProblem] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank lines are not rows
            if len(rows) + len(problems) >= max_rows:
                raise DomainError(
                    N_("The file has more than %(max)s rows; split it and upload each part."),
                    max=f"{max_rows:,}",
                    field="file",
                )
            line = reader.line_num
            raw = cells[email_at] if email_at < len(cells) else ""
            kind = (
                cells[type_at].strip().lower()
                if type_at is not None and type_at < len(cells)
                else ""
            )
            if kind not in ("", "email", "e-mail"):
                problems.append(
                    RowProblem(line, _shorten(raw), f"a {_shorten(kind, 20)} subscriber, not email")
                )
                continue
            email = normalize_email(_undo_neutralize(raw.strip()))
            if email is None:
                reason = "no address" if not raw.strip() else "not a valid email address"
                problems.append(RowProblem(line, _shorten(raw), reason))
                continue
            rows.append(
                ImportRow(
                    line=line,
                    email=email,
                    component_names=_names(
                        cells[components_at]
                        if components_at is not None and components_at < len(cells)
                        else ""
                    ),
                    group_names=_names(
                        cells[groups_at] if groups_at is not None and groups_at < len(cells) else ""
                    ),
                )
            )
    except csv.Error as error:
        raise DomainError(
            N_("The file cannot be read as CSV (line %(line)s: %(error)s)."),
            line=reader.line_num,
            error=str(error),
            field="file",
        ) from None
    if not rows and not problems:
        raise DomainError(N_("The file has a header but no addresses."), field="file")
    return ParsedImport(rows=rows, problems=problems)


def _by_name(items: Sequence[tuple[int, str]]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for item_id, name in items:
        found.setdefault(name.strip().lower(), []).append(item_id)
    return found


def _resolve(
    names: Sequence[str], known: dict[str, list[int]], what: str
) -> tuple[list[int], str | None]:
    """Ids for the names, or the reason the row cannot be used."""
    ids: list[int] = []
    wanted: list[str] = []
    for name in names:
        # Statuspage separates names with commas; a name that itself has one still matches.
        if name.lower() not in known and "," in name:
            wanted.extend(part.strip() for part in name.split(",") if part.strip())
        else:
            wanted.append(name)
    for name in wanted:
        matches = known.get(name.lower(), [])
        if not matches:
            return [], f"no {what} is called {_shorten(name, 40)!r}"
        if len(matches) > 1:
            return [], f"more than one {what} is called {_shorten(name, 40)!r}"
        if matches[0] not in ids:
            ids.append(matches[0])
    return ids, None


def _known_emails(session: Session, emails: Sequence[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(emails), EXPORT_CHUNK):
        part = emails[start : start + EXPORT_CHUNK]
        known.update(session.scalars(sa.select(Subscriber.email).where(Subscriber.email.in_(part))))
    return known


def import_subscribers(
    session: Session,
    parsed: ParsedImport,
    *,
    mark_confirmed: bool,
    actor_id: int | None,
    now: datetime,
    component_aliases: Mapping[str, int] | None = None,
) -> ImportResult:
    """Add the valid rows' new addresses; each added subscriber gets an audit row.

    `component_aliases` names components by other identifiers as well (the Statuspage ids
    of imported components), for files exported from there.

    With `mark_confirmed` the admin vouches that these people already agreed: they are active
    at once, with `confirmed_by_id` and `imported` recording who said so. Otherwise they wait
    unconfirmed; the caller sends each a confirmation email once the transaction is committed.
    """
    result = ImportResult(confirmed=mark_confirmed, problems=list(parsed.problems))
    components = {c.id: c for c in session.scalars(sa.select(Component))}
    groups = {g.id: g for g in session.scalars(sa.select(ComponentGroup))}
    components_by_name = _by_name([(c.id, c.name) for c in components.values()])
    for alias, component_id in (component_aliases or {}).items():
        if component_id in components and alias.strip().lower() not in components_by_name:
            components_by_name[alias.strip().lower()] = [component_id]
    groups_by_name = _by_name([(g.id, g.name) for g in groups.values()])
    known = _known_emails(session, sorted({row.email for row in parsed.rows}))
    seen: set[str] = set()
    added: list[Subscriber] = []

    for row in parsed.rows:
        if row.email in seen:
            result.repeated_lines.append(row.line)
            continue
        seen.add(row.email)
        if row.email in known:
            result.present_lines.append(row.line)
            continue
        component_ids, problem = _resolve(row.component_names, components_by_name, "component")
        if problem is None:
            group_ids, problem = _resolve(row.group_names, groups_by_name, "component group")
        if problem is not None:
            result.problems.append(RowProblem(row.line, _shorten(row.email), problem))
            continue
        subscriber = Subscriber(
            email=row.email,
            all_components=not component_ids and not group_ids,
            created_at=now,
            imported=True,
            confirmed_at=now if mark_confirmed else None,
            confirmed_by_id=actor_id if mark_confirmed else None,
            components=[components[cid] for cid in component_ids],
            groups=[groups[gid] for gid in group_ids],
        )
        session.add(subscriber)
        added.append(subscriber)

    session.flush()  # one flush for all of them: the ids for the audit rows
    for subscriber in added:
        record_audit(
            session,
            ENTITY,
            subscriber.id,
            "imported",
            {
                "imported": True,
                "confirmed": mark_confirmed,
                "confirmed_at": subscriber.confirmed_at,
                "confirmed_by_id": subscriber.confirmed_by_id,
                "all_components": subscriber.all_components,
                "component_ids": sorted(c.id for c in subscriber.components),
                "group_ids": sorted(g.id for g in subscriber.groups),
            },
            actor_id=actor_id,
            now=now,
        )
        result.added_ids.append(subscriber.id)
    session.flush()

    result.problems.sort(key=lambda problem: problem.line)
    logger.info(
        "Subscriber import by user %s: %d added (%s), %d already present, %d repeated, %d invalid",
        actor_id,
        result.added,
        "marked confirmed" if mark_confirmed else "confirmation to be sent",
        len(result.present_lines),
        len(result.repeated_lines),
        len(result.problems),
    )
    return result


# --- removal -----------------------------------------------------------------------------


def remove_subscriber(
    session: Session, subscriber_id: int, *, actor_id: int | None, now: datetime
) -> None:
    """Delete the subscriber and their choices. The audit row keeps the id, not the address."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise NotFound(N_("There is no such subscriber."))
    record_audit(
        session,
        ENTITY,
        subscriber.id,
        "removed",
        {
            "state": state_of(subscriber).value,
            "imported": subscriber.imported,
            "created_at": subscriber.created_at,
            "confirmed_at": subscriber.confirmed_at,
        },
        actor_id=actor_id,
        now=now,
    )
    session.delete(subscriber)
    session.flush()
    logger.info("Subscriber %s removed by user %s", subscriber_id, actor_id)
