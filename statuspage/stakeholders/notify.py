"""Telling stakeholder lists: by their rules when an incident event happens, or by hand.

`notify_stakeholders` is called by the incident domain at the one place each event happens
(see docs/architecture.md, "Stakeholders told by the process"), inside that change's
transaction. It writes, together with the change:

- a `StakeholderMessage` with its recipients fixed now (a member added later is not told of
  an earlier event; one address in two lists gets one email);
- one outbox row (`NotificationKind.STAKEHOLDER_SUMMARY`), which the worker expands and sends
  with the same batches, retries and no-double-send guarantees as subscriber email;
- a timeline event ("Leadership and Support notified: P1 declared").

The lists' channels (webhook, Slack, Teams, Discord, attached by staff) receive the same
summary from the channel outbox: the message names its lists by id
(`stakeholder_message_list`), and only those lists' channels are its audience.

The email itself (an internal summary of the incident) is composed at delivery by
`statuspage.notifications.stakeholder_email`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.auth.models import User
from statuspage.core.errors import DomainError, NotFound
from statuspage.core.outbox import (
    Notification,
    NotificationKind,
    NotificationState,
    queue_notification,
)
from statuspage.core.records import record_audit, record_event
from statuspage.core.translation import N_
from statuspage.stakeholders.lists import TEMPLATE_BODY_MAX
from statuspage.stakeholders.models import (
    StakeholderEvent,
    StakeholderList,
    StakeholderMember,
    StakeholderMessage,
    StakeholderRecipient,
)

logger = logging.getLogger(__name__)

TIMELINE_KIND = "stakeholders_notified"
PRIORITY_ORDER = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}


def priority_event(before: str | None, after: str | None) -> StakeholderEvent | None:
    """What a priority change is to stakeholders: the first priority declares the incident,
    a more severe one raises it; a lower one tells nobody."""
    if after is None or before == after:
        return None
    if before is None:
        return StakeholderEvent.DECLARED
    if PRIORITY_ORDER.get(after, 99) < PRIORITY_ORDER.get(before, 99):
        return StakeholderEvent.PRIORITY_RAISED
    return None


def matching_lists(
    session: Session, priority: str | None, event: StakeholderEvent
) -> list[StakeholderList]:
    """The lists whose rules name this priority and this event. A resolution is a status
    change too: a list told of status changes hears of it."""
    if priority is None:
        return []
    wanted = {event.value}
    if event == StakeholderEvent.RESOLVED:
        wanted.add(StakeholderEvent.STATUS_CHANGED.value)
    return [
        stakeholder_list
        for stakeholder_list in session.scalars(
            sa.select(StakeholderList).order_by(sa.func.lower(StakeholderList.name))
        )
        if priority in (stakeholder_list.priorities or [])
        and wanted & set(stakeholder_list.events or [])
    ]


def _addresses(session: Session, lists: Sequence[StakeholderList]) -> list[str]:
    """Every member's address, once: staff by their account's current address (active
    accounts only), others as entered."""
    list_ids = [stakeholder_list.id for stakeholder_list in lists]
    if not list_ids:
        return []
    rows = session.execute(
        sa.select(StakeholderMember.email, User.email, User.active)
        .outerjoin(User, User.id == StakeholderMember.user_id)
        .where(StakeholderMember.list_id.in_(list_ids))
        .order_by(StakeholderMember.id)
    ).all()
    found: dict[str, None] = {}
    for plain, staff, active in rows:
        if staff is not None:
            if active:
                found[staff.strip().lower()] = None
        elif plain:
            found[plain] = None
    return list(found)


# The channel subscriptions staff attached to lists (`notifications.models.
# ChannelSubscription`), named as a bare table: `notifications` sits above this package
# (it imports `incidents`, which calls us), so its models cannot be imported here.
_channel_subscription = sa.table(
    "channel_subscription",
    sa.column("id", sa.Integer),
    sa.column("stakeholder_list_id", sa.Integer),
    sa.column("status", sa.String),
)


def _channel_count(session: Session, lists: Sequence[StakeholderList]) -> int:
    """How many active channels (webhook, Slack, Teams, Discord) the lists have."""
    list_ids = [stakeholder_list.id for stakeholder_list in lists]
    if not list_ids:
        return 0
    return (
        session.scalar(
            sa.select(sa.func.count(_channel_subscription.c.id)).where(
                _channel_subscription.c.stakeholder_list_id.in_(list_ids),
                _channel_subscription.c.status == "active",
            )
        )
        or 0
    )


def _names(lists: Sequence[StakeholderList]) -> str:
    names = [stakeholder_list.name for stakeholder_list in lists]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _write(
    session: Session,
    incident_id: int,
    lists: Sequence[StakeholderList],
    event: StakeholderEvent,
    *,
    detail: str,
    body: str,
    actor_id: int | None,
    now: datetime,
) -> StakeholderMessage | None:
    names = _names(lists)
    what = detail or event.label
    addresses = _addresses(session, lists)
    channels = _channel_count(session, lists)
    if not addresses and not channels:
        record_event(
            session,
            incident_id,
            TIMELINE_KIND,
            f"{names} not notified ({what}): no members with an address and no channels",
            actor_id=actor_id,
            now=now,
            data={
                "event": event.value,
                "lists": [s.name for s in lists],
                "recipients": 0,
                "channels": 0,
            },
        )
        logger.warning(
            "incident %s: stakeholder lists %s matched %s but have no members",
            incident_id,
            [s.id for s in lists],
            event.value,
        )
        return None
    notification = queue_notification(
        session, NotificationKind.STAKEHOLDER_SUMMARY, incident_id=incident_id, now=now
    )
    session.flush()
    message = StakeholderMessage(
        incident_id=incident_id,
        notification_id=notification.id,
        event=event,
        detail=detail,
        body=body,
        list_names=[s.name for s in lists],
        actor_id=actor_id,
        created_at=now,
        recipients=[StakeholderRecipient(email=address) for address in addresses],
        lists=list(lists),
    )
    session.add(message)
    session.flush()
    record_event(
        session,
        incident_id,
        TIMELINE_KIND,
        f"{names} notified: {what}",
        actor_id=actor_id,
        now=now,
        data={
            "event": event.value,
            "lists": [s.name for s in lists],
            "recipients": len(addresses),
            "channels": channels,
            "message_id": message.id,
        },
    )
    logger.info(
        "incident %s: stakeholder message %s (%s) for lists %s, %d recipient(s), "
        "%d channel(s), by %s",
        incident_id,
        message.id,
        event.value,
        [s.id for s in lists],
        len(addresses),
        channels,
        actor_id,
    )
    return message


def notify_stakeholders(
    session: Session,
    *,
    incident_id: int,
    priority: str | None,
    event: StakeholderEvent,
    detail: str = "",
    actor_id: int | None,
    now: datetime,
) -> StakeholderMessage | None:
    """Tell the lists whose rules match (priority and event), in the caller's transaction.
    Returns the message written, or None when no list matched or none had members. Flushes."""
    event = StakeholderEvent(event)
    lists = matching_lists(session, priority, event)
    if not lists:
        return None
    return _write(
        session, incident_id, lists, event, detail=detail, body="", actor_id=actor_id, now=now
    )


def send_stakeholder_update(
    session: Session,
    *,
    incident_id: int,
    list_ids: Sequence[int],
    body: str,
    actor_id: int | None,
    now: datetime,
) -> StakeholderMessage:
    """A stakeholder update written by hand (the comms lead's), to the chosen lists, whatever
    their rules. Internal: it is never a public update. Flushes."""
    body = (body or "").strip()
    if not body:
        raise DomainError(N_("Write the update."), field="body")
    if len(body) > TEMPLATE_BODY_MAX:
        raise DomainError(
            N_("Keep the update under %(max)s characters."), max=TEMPLATE_BODY_MAX, field="body"
        )
    wanted = sorted(set(list_ids))
    if not wanted:
        raise DomainError(N_("Choose at least one list."), field="lists")
    lists = list(
        session.scalars(
            sa.select(StakeholderList)
            .where(StakeholderList.id.in_(wanted))
            .order_by(sa.func.lower(StakeholderList.name))
        )
    )
    if len(lists) != len(wanted):
        raise NotFound(N_("Some of the chosen lists do not exist."), field="lists")
    message = _write(
        session,
        incident_id,
        lists,
        StakeholderEvent.MANUAL,
        detail="stakeholder update",
        body=body,
        actor_id=actor_id,
        now=now,
    )
    if message is None:
        raise DomainError(
            N_("The chosen lists have no members or channels to tell."), field="lists"
        )
    record_audit(
        session,
        "incident",
        incident_id,
        "stakeholder_update",
        {"lists": [s.name for s in lists], "recipients": len(message.recipients)},
        actor_id=actor_id,
        now=now,
    )
    return message


def messages_for(session: Session, incident_id: int) -> list[tuple[StakeholderMessage, str]]:
    """The incident's stakeholder messages, newest first, each with its delivery state
    (pending, sending, done, failed)."""
    rows = session.execute(
        sa.select(StakeholderMessage, Notification.state)
        .join(Notification, Notification.id == StakeholderMessage.notification_id)
        .where(StakeholderMessage.incident_id == incident_id)
        .order_by(StakeholderMessage.created_at.desc(), StakeholderMessage.id.desc())
    ).all()
    return [(message, NotificationState(state).value) for message, state in rows]


def resolution_told(
    session: Session, incident_id: int, resolved_at: datetime | None
) -> StakeholderMessage | None:
    """The latest message that told stakeholders of the resolution, if any: one sent by the
    rules when the incident was resolved, or an update sent by hand since it was."""
    told = sa.or_(
        StakeholderMessage.event == StakeholderEvent.RESOLVED,
        sa.and_(
            StakeholderMessage.event == StakeholderEvent.MANUAL,
            StakeholderMessage.created_at >= resolved_at,
        )
        if resolved_at is not None
        else sa.false(),
    )
    return session.scalar(
        sa.select(StakeholderMessage)
        .where(StakeholderMessage.incident_id == incident_id, told)
        .order_by(StakeholderMessage.id.desc())
        .limit(1)
    )
