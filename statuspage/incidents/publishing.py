"""Publishing a public incident update: one entry point for the admin form, drafts and the API.

`publish_update(session, PublishUpdate(...), actor_id=..., now=...)` checks the command and
then writes everything publishing means, in the caller's transaction (flushes, never commits):

- the update row: a new one, or the draft named by `draft_id` (it keeps its id, author and
  `created_at`);
- the components' new statuses with their history rows, the incident's affected components and
  its public impact (the worst any update caused);
- the incident's public face: public from now on, its public status, the monitoring and
  resolved times, and "next update by" (replaced by `next_update_at`, or removed);
- the timeline event `public_update` and the audit row `incident_update`/`publish`;
- one outbox row (`core.outbox`) when subscribers are to be told;
- one public version bump.

The rules, the same for every caller except where a command option says otherwise:

- a closed or cancelled incident takes no updates;
- the status is a public status; the message is required and at most `BODY_MAX` characters
  once trimmed;
- a component the incident does not affect is refused, unless the command says
  `add_unaffected_components`: then it is added to the incident, and recorded with the update
  even when its status stays (the update is what made it affected);
- a component status equal to the component's current one is left out, so an update's
  component changes say what it changed (the admin form shows every affected component with
  its current status preselected), unless the command says `record_unchanged_components`: an
  API caller names only the components it means, and each one it names is recorded;
- "next update by" lies in the future and never comes with a resolved update.

An update may be addressed to chosen audiences (`audience_ids`; none: public). Then it may
change only private components, a public incident keeps its public face (status, impact, next
update) and a non-public one is shown to those audiences, and the outbox row is for their
subscribers only (`audiences.visibility` is the rule every channel reads).

What differs between callers is said in the command, nowhere else:

| caller | add unaffected | record unchanged | `next_update_at` | `draft_id` |
|---|---|---|---|---|
| admin form (`admin.updates`) | False | False | from the form | None |
| a draft (`updates.publish_draft`, `admin.updates`) | False | False | from the form | the draft |
| write API (`POST /api/v1/incidents/<id>/updates`) | True | True | None | None |
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from statuspage.audiences.models import Audience
from statuspage.components.models import Component, ComponentStatus
from statuspage.components.status import announce_status_changes, record_status
from statuspage.core.errors import DomainError, NotFound
from statuspage.core.outbox import NotificationKind, queue_notification
from statuspage.core.records import bump_public_version, record_audit, record_event, touch
from statuspage.core.translation import N_
from statuspage.incidents.lifecycle import status_term
from statuspage.incidents.models import (
    Incident,
    IncidentComponent,
    IncidentStatus,
    IncidentUpdate,
    IncidentUpdateComponent,
    PublicImpact,
    PublicStatus,
)

logger = logging.getLogger(__name__)

# One limit for every caller; the API's request model and the admin forms use it too.
BODY_MAX = 20_000

# The public impact an incident has, at least, when it puts a component in this status.
IMPACT_OF_STATUS = {
    ComponentStatus.OPERATIONAL: PublicImpact.NONE,
    ComponentStatus.UNDER_MAINTENANCE: PublicImpact.NONE,
    ComponentStatus.DEGRADED_PERFORMANCE: PublicImpact.MINOR,
    ComponentStatus.PARTIAL_OUTAGE: PublicImpact.MAJOR,
    ComponentStatus.MAJOR_OUTAGE: PublicImpact.CRITICAL,
}
_IMPACT_ORDER = list(PublicImpact)

# Lifecycle statuses in which the incident takes no more public updates.
NO_UPDATES_IN = frozenset({IncidentStatus.CLOSED, IncidentStatus.CANCELLED})


@dataclass(frozen=True)
class PublishUpdate:
    """One public update to publish; see the module's table for what each caller sets."""

    incident_id: int
    status: PublicStatus | str
    body: str
    component_statuses: Mapping[int, ComponentStatus | str] = field(default_factory=dict)
    deliver_notifications: bool = True
    next_update_at: datetime | None = None
    # The write API may name components the incident does not affect yet; staff forms may not
    # (they add components in the incident's details first).
    add_unaffected_components: bool = False
    # Record every component named, even one whose status stays (the API's callers name only
    # what they mean); staff forms name every affected component, so there only changes count.
    record_unchanged_components: bool = False
    # Publish this draft (with the command's text) instead of a new update row.
    draft_id: int | None = None
    # Empty: a public update (every audience sees it). Otherwise only these audiences' members
    # see it, hear of it and find the incident; the public sees nothing of it.
    audience_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class CheckedText:
    """An update's content as the domain accepts it: the changes only, with their components."""

    status: PublicStatus
    body: str
    changes: dict[int, ComponentStatus]
    components: dict[int, Component]


# --- the entry point ---------------------------------------------------------------------------


def publish_update(
    session: Session, command: PublishUpdate, *, actor_id: int | None, now: datetime
) -> IncidentUpdate:
    """Publish `command`'s update; raise a `DomainError` before anything is written."""
    # The affected components with the incident: two queries, not one per component (also
    # when the caller already loaded the incident: its unloaded collection is filled in).
    incident = session.scalar(
        sa.select(Incident)
        .where(Incident.id == command.incident_id)
        .options(selectinload(Incident.affected).joinedload(IncidentComponent.component))
    )
    if incident is None:
        raise NotFound(N_("There is no incident %(id)s."), id=command.incident_id)
    draft = get_draft(session, incident, command.draft_id) if command.draft_id is not None else None
    checked = check_text(
        session,
        incident,
        status=command.status,
        body=command.body,
        component_statuses=command.component_statuses,
        add_unaffected_components=command.add_unaffected_components,
        record_unchanged_components=command.record_unchanged_components,
    )
    check_next_update_at(command.next_update_at, checked.status, now=now)
    audiences = check_audiences(session, command.audience_ids, checked)

    if draft is None:
        update = IncidentUpdate(incident_id=incident.id, author_id=actor_id, created_at=now)
        session.add(update)
    else:
        update = draft
    # The caller reads the incident through the update (the answer of the API): the loaded
    # one, held by the update, rather than a reload once the session's weak reference is gone.
    set_committed_value(update, "incident", incident)
    update.status = checked.status
    update.body = checked.body
    update.deliver_notifications = command.deliver_notifications
    update.published_at = now
    update.audiences = audiences
    plan_component_changes(update, checked.changes, checked.components)
    # An update to chosen audiences leaves a public incident's public face as it is.
    public_face = not audiences or not incident.is_public
    _apply_component_changes(
        session,
        incident,
        checked,
        actor_id=actor_id,
        now=now,
        raise_impact=public_face,
        # "Notify subscribers" unchecked: no component event for the channels either.
        announce=command.deliver_notifications,
    )
    first = False
    if public_face:
        first = _make_public(
            incident, checked.status, command.next_update_at, now=now, public=not audiences
        )
    for audience in audiences:
        if audience not in incident.audiences:
            incident.audiences.append(audience)
    session.flush()

    what = "Draft published" if draft is not None else "Public update published"
    if audiences:
        what = ("Draft published to " if draft is not None else "Update published to ") + ", ".join(
            audience.name for audience in audiences
        )
    record_event(
        session,
        incident.id,
        "public_update",
        f"{what} ({checked.status.value})" + (": incident is now public" if first else ""),
        actor_id=actor_id,
        now=now,
        data={"update_id": update.id},
    )
    record_audit(
        session,
        "incident_update",
        update.id,
        "publish",
        {
            "incident_id": incident.id,
            "status": checked.status,
            "components": {str(k): v.value for k, v in checked.changes.items()},
            "deliver_notifications": update.deliver_notifications,
            "next_update_at": command.next_update_at,
            "from_draft": draft is not None,
        }
        | ({"audiences": [audience.id for audience in audiences]} if audiences else {}),
        actor_id=actor_id,
        now=now,
    )
    bump_public_version(session, now)
    if update.deliver_notifications:
        queue_notification(
            session,
            NotificationKind.INCIDENT_UPDATE,
            incident_id=incident.id,
            incident_update_id=update.id,
            component_ids=[link.component_id for link in incident.affected],
            audience_ids=[audience.id for audience in audiences],
            now=now,
        )
    session.flush()
    logger.info(
        "Incident %s: update %s published by user %s%s",
        incident.id,
        update.id,
        actor_id,
        " (from a draft)" if draft is not None else "",
    )
    return update


def post_update(
    session: Session,
    incident: Incident,
    *,
    status: PublicStatus | str,
    body: str,
    component_statuses: Mapping[int, ComponentStatus | str] | None = None,
    deliver_notifications: bool = True,
    next_update_at: datetime | None = None,
    add_unaffected_components: bool = True,
    record_unchanged_components: bool = True,
    audience_ids: Sequence[int] = (),
    actor_id: int | None,
    now: datetime,
) -> IncidentUpdate:
    """`publish_update` in keyword form, for the demo data, benchmarks and tests.

    It only builds the command, with the API's options unless told otherwise; the views and
    the API build theirs themselves.
    """
    return publish_update(
        session,
        PublishUpdate(
            incident_id=incident.id,
            status=status,
            body=body,
            component_statuses=component_statuses or {},
            deliver_notifications=deliver_notifications,
            next_update_at=next_update_at,
            add_unaffected_components=add_unaffected_components,
            record_unchanged_components=record_unchanged_components,
            audience_ids=tuple(audience_ids),
        ),
        actor_id=actor_id,
        now=now,
    )


# --- checks, shared with drafts and edits ------------------------------------------------------


def check_text(
    session: Session,
    incident: Incident,
    *,
    status: PublicStatus | str | None,
    body: str | None,
    component_statuses: Mapping[int, ComponentStatus | str] | None,
    add_unaffected_components: bool = False,
    record_unchanged_components: bool = False,
) -> CheckedText:
    """Validate an update's content against the incident (drafts are checked by this too)."""
    check_open_for_updates(incident)
    checked_status = parse_public_status(status)
    checked_body = check_body(body)
    wanted = parse_component_statuses(component_statuses)
    components = {link.component_id: link.component for link in incident.affected}
    outside = sorted(set(wanted) - components.keys())
    if outside and not add_unaffected_components:
        raise DomainError(
            N_(
                "Only the incident's affected components can change with an update; not "
                "%(components)s. Add a component in the incident's details first."
            ),
            components=", ".join(f"#{component_id}" for component_id in outside),
            field="components",
        )
    components.update(components_by_id(session, outside))
    changes = {
        component_id: new_status
        for component_id, new_status in wanted.items()
        if record_unchanged_components
        or component_id in outside
        or components[component_id].status != new_status
    }
    return CheckedText(checked_status, checked_body, changes, components)


def check_audiences(
    session: Session, audience_ids: Sequence[int], checked: CheckedText
) -> list[Audience]:
    """The audiences an update is addressed to (none: public). An update to chosen audiences
    may change only private components: a public component's status is public."""
    wanted = sorted({int(i) for i in audience_ids})
    if not wanted:
        return []
    found = list(
        session.scalars(sa.select(Audience).where(Audience.id.in_(wanted)).order_by(Audience.name))
    )
    missing = set(wanted) - {audience.id for audience in found}
    if missing:
        raise NotFound(
            N_("Unknown audience id(s): %(ids)s"),
            ids=", ".join(str(i) for i in sorted(missing)),
            field="audiences",
        )
    public = sorted(
        checked.components[component_id].name
        for component_id in checked.changes
        if checked.components[component_id].is_public
    )
    if public:
        raise DomainError(
            N_(
                "An update to chosen audiences cannot change public components (%(components)s): "
                "their status is public. Publish a public update for them."
            ),
            components=", ".join(public),
            field="components",
        )
    return found


def check_body(body: str | None) -> str:
    """The message, trimmed; refused when empty or longer than `BODY_MAX`."""
    text = (body or "").strip()
    if not text:
        raise DomainError(N_("A public update needs a message."), field="body")
    if len(text) > BODY_MAX:
        raise DomainError(
            N_("Keep the message under %(max)s characters."), max=BODY_MAX, field="body"
        )
    return text


def check_open_for_updates(incident: Incident) -> None:
    """Refuse a new public update on a closed or cancelled incident."""
    if incident.status in NO_UPDATES_IN:
        raise DomainError(
            N_(
                "Incident #%(id)s is %(status)s: it takes no more public updates. Reopen it first "
                "if customers need to hear more."
            ),
            id=incident.id,
            status=status_term(incident.status),
        )


def parse_public_status(value: PublicStatus | str | None) -> PublicStatus:
    try:
        return PublicStatus(value)
    except ValueError:
        words = ", ".join(s.value for s in PublicStatus)
        raise DomainError(
            f"Unknown public status {value!r}; use one of {words}.", field="status"
        ) from None


def parse_component_statuses(
    component_statuses: Mapping[int, ComponentStatus | str] | None,
) -> dict[int, ComponentStatus]:
    wanted: dict[int, ComponentStatus] = {}
    for key, value in (component_statuses or {}).items():
        try:
            wanted[int(key)] = ComponentStatus(value)
        except ValueError:
            words = ", ".join(s.value for s in ComponentStatus)
            raise DomainError(
                f"Unknown component status {value!r}; use one of {words}.", field="components"
            ) from None
    return wanted


def check_next_update_at(
    next_update_at: datetime | None, status: PublicStatus, *, now: datetime
) -> None:
    if next_update_at is None:
        return
    if status == PublicStatus.RESOLVED:
        raise DomainError(
            N_("A resolved update promises no next update; leave the time empty."),
            field="next_update_at",
        )
    if next_update_at <= now:
        raise DomainError(N_("Choose a next-update time in the future."), field="next_update_at")


def components_by_id(session: Session, ids: Sequence[int]) -> dict[int, Component]:
    """The components with these ids; `NotFound` (field "components") names any unknown id."""
    wanted = set(ids)
    if not wanted:
        return {}
    found = {c.id: c for c in session.scalars(sa.select(Component).where(Component.id.in_(wanted)))}
    missing = wanted - found.keys()
    if missing:
        raise NotFound(
            N_("Unknown component id(s): %(ids)s"),
            ids=", ".join(str(i) for i in sorted(missing)),
            field="components",
        )
    return found


def get_update(session: Session, incident: Incident, update_id: int) -> IncidentUpdate:
    update = session.get(IncidentUpdate, update_id)
    if update is None or update.incident_id != incident.id:
        raise NotFound(
            N_("Incident #%(id)s has no update %(update)s."), id=incident.id, update=update_id
        )
    return update


def get_draft(session: Session, incident: Incident, update_id: int) -> IncidentUpdate:
    update = get_update(session, incident, update_id)
    if update.published_at is not None:
        raise DomainError(N_("That update is already published; it is no draft any more."))
    return update


def plan_component_changes(
    update: IncidentUpdate,
    wanted: Mapping[int, ComponentStatus],
    components: Mapping[int, Component],
) -> None:
    """Make `update.component_changes` say exactly `wanted`, old statuses as they are now.

    Rows are changed in place rather than replaced: a draft keeps its planned changes in the
    same rows, and deleting and re-inserting a row with the same key in one flush is fragile.
    """
    existing = {change.component_id: change for change in update.component_changes}
    for component_id, change in existing.items():
        if component_id not in wanted:
            update.component_changes.remove(change)
    for component_id, new_status in wanted.items():
        old_status = components[component_id].status
        change = existing.get(component_id)
        if change is None:
            update.component_changes.append(
                IncidentUpdateComponent(
                    component_id=component_id, old_status=old_status, new_status=new_status
                )
            )
        else:
            change.old_status = old_status
            change.new_status = new_status


# --- writing -----------------------------------------------------------------------------------


def _apply_component_changes(
    session: Session,
    incident: Incident,
    checked: CheckedText,
    *,
    actor_id: int | None,
    now: datetime,
    raise_impact: bool = True,
    announce: bool = True,
) -> None:
    affected = {link.component_id: link for link in incident.affected}
    recorded = []
    for component_id, new_status in checked.changes.items():
        component = checked.components[component_id]
        change = record_status(
            session, component, new_status, now=now, incident_id=incident.id, actor_id=actor_id
        )
        if change is not None:
            recorded.append((component, change))
        link = affected.get(component_id)
        if link is None:
            link = IncidentComponent(component_id=component_id, status=new_status)
            incident.affected.append(link)
            affected[component_id] = link
        else:
            link.status = new_status
        impact = IMPACT_OF_STATUS[new_status]
        if raise_impact and _IMPACT_ORDER.index(impact) > _IMPACT_ORDER.index(
            incident.public_impact
        ):
            incident.public_impact = impact
    if recorded:
        # One flush for every component: its statements batch per table.
        session.flush()
        if announce:
            announce_status_changes(session, recorded, now=now)


def _make_public(
    incident: Incident,
    status: PublicStatus,
    next_update_at: datetime | None,
    *,
    now: datetime,
    public: bool = True,
) -> bool:
    """Show the incident with this update's status; True when it was not public before.
    With `public` False (an update to chosen audiences on an incident the public does not
    see) the face is set for those audiences and the incident stays not public."""
    first = public and not incident.is_public
    if public:
        incident.is_public = True
    if incident.published_at is None:
        incident.published_at = now
    incident.public_status = status
    if status == PublicStatus.MONITORING and incident.monitoring_at is None:
        incident.monitoring_at = now
    if status == PublicStatus.RESOLVED:
        incident.public_resolved_at = now
    elif incident.public_resolved_at is not None:
        incident.public_resolved_at = None  # reopened publicly
    # The update keeps (or replaces) the promise of the next one, and ends any reminder.
    incident.next_update_at = next_update_at
    incident.next_update_reminded_at = None
    touch(incident, now)
    return first
