"""Writing to the outbox: called by the domain functions that publish something.

The caller's transaction commits the notification together with the change it announces.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from statuspage.notifications.models import Notification, NotificationKind


def queue_notification(
    session: Session,
    kind: NotificationKind,
    *,
    now: datetime,
    component_ids: Iterable[int] = (),
    incident_id: int | None = None,
    incident_update_id: int | None = None,
    maintenance_id: int | None = None,
    maintenance_update_id: int | None = None,
) -> Notification:
    notification = Notification(
        kind=NotificationKind(kind),
        incident_id=incident_id,
        incident_update_id=incident_update_id,
        maintenance_id=maintenance_id,
        maintenance_update_id=maintenance_update_id,
        component_ids=sorted(set(component_ids)),
        created_at=now,
    )
    session.add(notification)
    return notification
