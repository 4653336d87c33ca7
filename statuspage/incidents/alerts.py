"""Alerts from monitoring: a firing alert opens an incident in triage or joins the open one.

Flask-free like the rest of the domain: the webhook views parse Alertmanager's or the generic
JSON into `AlertInput` and call `receive_alert` once per alert; the view commits once.

Deduplication: an alert's key is Alertmanager's fingerprint (or a hash of its labels) or the
generic format's `dedup_key`. A firing alert joins an open incident that already holds an alert
with the same source and key received within the window, measured from the last such alert, so
an alert that keeps firing (Alertmanager resends it) or flaps stays on one incident.

Priority: an incident an alert opens is categorized at once (impact and urgency through
`categorize_incident`, so the priority matrix decides and the SLA clocks start) from the alert's
severity, read through the `ALERT_SEVERITY_MAP` setting; its `default` entry covers an alert
without a severity or with one the map does not name. The timeline says which.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.components.models import Component
from statuspage.core.records import record_event
from statuspage.incidents.lifecycle import transition_incident
from statuspage.incidents.models import (
    Alert,
    AlertStatus,
    Incident,
    IncidentSource,
    IncidentStatus,
    Level,
)
from statuspage.incidents.operations import (
    TITLE_MAX,
    NewIncident,
    categorize_incident,
    open_incident,
)

logger = logging.getLogger(__name__)

DEFAULT_WINDOW = timedelta(hours=4)
DEDUP_KEY_MAX = 255
# Incidents an alert may no longer join: they are over.
FINISHED = (IncidentStatus.RESOLVED, IncidentStatus.CLOSED, IncidentStatus.CANCELLED)


@dataclass(frozen=True)
class AlertInput:
    """One alert as the webhook received it, already validated."""

    source: str  # "alertmanager" or "generic"
    dedup_key: str
    status: AlertStatus
    title: str
    description: str = ""
    component: str | None = None  # a component's name (any case) or numeric id
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    severity: str | None = None  # Alertmanager's `severity` label, the generic `severity`


# severity (lower case) -> (impact, urgency); the key "default" covers the rest.
SeverityMap = Mapping[str, tuple[str, str]]
DEFAULT_SEVERITY = "default"


@dataclass(frozen=True)
class AlertOutcome:
    """What happened to one alert: opened, attached, resolved or ignored."""

    action: str
    dedup_key: str
    alert_id: int
    incident_id: int | None = None
    # True when the alert was already firing on the incident (a redelivery): no new event.
    repeat: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "dedup_key": self.dedup_key,
            "alert_id": self.alert_id,
            "incident_id": self.incident_id,
            "repeat": self.repeat,
        }


def labels_fingerprint(labels: Mapping[str, str]) -> str:
    """A stable key for an alert without a fingerprint: the hash of its sorted labels."""
    canonical = json.dumps(dict(labels), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def receive_alert(
    session: Session,
    alert: AlertInput,
    *,
    actor_id: int | None,
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
    severity_map: SeverityMap | None = None,
) -> AlertOutcome:
    """Store the alert and open, join or update the incident it belongs to. Flushes only.

    `severity_map` gives an incident the alert opens its impact and urgency (no map: none).
    """
    if alert.status == AlertStatus.RESOLVED:
        return _resolve(session, alert, actor_id=actor_id, now=now)
    return _fire(
        session, alert, actor_id=actor_id, now=now, window=window, severity_map=severity_map or {}
    )


def assess_severity(
    severity: str | None, severity_map: SeverityMap
) -> tuple[Level, Level, str] | None:
    """Impact, urgency and where they came from, for an alert's severity; None if unmapped."""
    name = " ".join((severity or "").split())
    key = name.lower()
    if key and key in severity_map:
        impact, urgency = severity_map[key]
        return Level(impact), Level(urgency), f"from alert severity {name}"
    if DEFAULT_SEVERITY not in severity_map:
        return None
    impact, urgency = severity_map[DEFAULT_SEVERITY]
    why = f"severity {name} not in ALERT_SEVERITY_MAP" if key else "no severity"
    return Level(impact), Level(urgency), f"default for alerts, {why}"


def _row(alert: AlertInput, *, now: datetime, incident_id: int | None) -> Alert:
    starts_at = min(alert.starts_at or now, now)
    ends_at = None
    if alert.status == AlertStatus.RESOLVED:
        ends_at = max(min(alert.ends_at or now, now), starts_at)
    return Alert(
        source=alert.source,
        dedup_key=alert.dedup_key,
        status=alert.status,
        title=_shorten(alert.title, 200),
        labels=dict(alert.labels),
        annotations=dict(alert.annotations),
        starts_at=starts_at,
        # A firing alert's endsAt is only Alertmanager's guess at when it will stop.
        ends_at=ends_at,
        incident_id=incident_id,
        received_at=now,
        resolved_at=now if alert.status == AlertStatus.RESOLVED else None,
    )


def _joinable_incident(
    session: Session, alert: AlertInput, *, now: datetime, window: timedelta
) -> Incident | None:
    last = session.execute(
        sa.select(Alert.received_at, Incident)
        .join(Incident, Incident.id == Alert.incident_id)
        .where(
            Alert.source == alert.source,
            Alert.dedup_key == alert.dedup_key,
            Incident.status.not_in(FINISHED),
        )
        .order_by(Alert.received_at.desc(), Alert.id.desc())
        .limit(1)
    ).first()
    if last is None or last.received_at < now - window:
        return None
    return last.Incident


def _fire(
    session: Session,
    alert: AlertInput,
    *,
    actor_id: int | None,
    now: datetime,
    window: timedelta,
    severity_map: SeverityMap,
) -> AlertOutcome:
    incident = _joinable_incident(session, alert, now=now, window=window)
    if incident is not None:
        return _attach(session, alert, incident, actor_id=actor_id, now=now)

    component_ids = _component_ids(session, alert.component)
    started = min(alert.starts_at or now, now)  # a clock running ahead must not break intake
    incident = open_incident(
        session,
        NewIncident(
            title=_shorten(alert.title, TITLE_MAX),
            description=alert.description,
            source=IncidentSource.MONITORING,
            impact_started_at=started,
            detected_at=started,
            component_ids=component_ids,
        ),
        actor_id=actor_id,
        now=now,
    )
    row = _row(alert, now=now, incident_id=incident.id)
    session.add(row)
    transition_incident(session, incident, IncidentStatus.TRIAGE, actor_id=actor_id, now=now)
    summary = f"Opened from alert ({alert.source}): {alert.title}"
    if alert.component and not component_ids:
        summary += f" (no component matches {alert.component!r})"
    session.flush()
    record_event(
        session,
        incident.id,
        "alert_opened",
        summary,
        actor_id=actor_id,
        now=now,
        data={"alert_id": row.id, "dedup_key": alert.dedup_key},
    )
    assessed = assess_severity(alert.severity, severity_map)
    if assessed is not None:
        impact, urgency, reason = assessed
        categorize_incident(
            session,
            incident,
            category_id=None,
            subcategory_id=None,
            impact=impact,
            urgency=urgency,
            actor_id=actor_id,
            now=now,
            reason=reason,
        )
    session.flush()
    logger.info(
        "incident %s opened from alert %s (%s) by user %s",
        incident.id,
        row.id,
        alert.source,
        actor_id,
    )
    return AlertOutcome("opened", alert.dedup_key, row.id, incident.id)


def _attach(
    session: Session,
    alert: AlertInput,
    incident: Incident,
    *,
    actor_id: int | None,
    now: datetime,
) -> AlertOutcome:
    still_firing = sa.select(Alert.id).where(
        Alert.incident_id == incident.id,
        Alert.source == alert.source,
        Alert.dedup_key == alert.dedup_key,
        Alert.status == AlertStatus.FIRING,
    )
    if alert.starts_at is not None:
        still_firing = still_firing.where(Alert.starts_at == min(alert.starts_at, now))
    # Alertmanager resends a firing alert every repeat interval: keep the row (it extends the
    # window) but do not fill the timeline with it.
    repeat = session.scalar(still_firing.limit(1)) is not None
    row = _row(alert, now=now, incident_id=incident.id)
    session.add(row)
    session.flush()
    if not repeat:
        record_event(
            session,
            incident.id,
            "alert_firing",
            f"Alert firing again: {alert.title}",
            actor_id=actor_id,
            now=now,
            data={"alert_id": row.id, "dedup_key": alert.dedup_key},
        )
        session.flush()
    logger.info(
        "alert %s attached to incident %s (repeat=%s) by user %s",
        row.id,
        incident.id,
        repeat,
        actor_id,
    )
    return AlertOutcome("attached", alert.dedup_key, row.id, incident.id, repeat=repeat)


def _resolve(
    session: Session, alert: AlertInput, *, actor_id: int | None, now: datetime
) -> AlertOutcome:
    firing = list(
        session.scalars(
            sa.select(Alert)
            .where(
                Alert.source == alert.source,
                Alert.dedup_key == alert.dedup_key,
                Alert.status == AlertStatus.FIRING,
            )
            .order_by(Alert.id)
        )
    )
    if not firing:
        # Nothing to resolve (never seen, or already resolved): keep it for the record only.
        row = _row(alert, now=now, incident_id=None)
        session.add(row)
        session.flush()
        return AlertOutcome("ignored", alert.dedup_key, row.id)

    ends_at = min(alert.ends_at or now, now)
    for row in firing:
        row.status = AlertStatus.RESOLVED
        row.resolved_at = now
        row.ends_at = max(ends_at, row.starts_at)
    incident_ids = sorted({row.incident_id for row in firing if row.incident_id is not None})
    for incident_id in incident_ids:
        # The incident stays where staff put it: an alert clearing is evidence, not a decision.
        record_event(
            session,
            incident_id,
            "alert_resolved",
            f"Alert resolved: {alert.title}",
            actor_id=actor_id,
            now=now,
            data={"alert_ids": [r.id for r in firing], "dedup_key": alert.dedup_key},
        )
    session.flush()
    logger.info(
        "alert %s resolved on incident(s) %s by user %s", alert.dedup_key, incident_ids, actor_id
    )
    return AlertOutcome(
        "resolved", alert.dedup_key, firing[-1].id, incident_ids[-1] if incident_ids else None
    )


def _component_ids(session: Session, value: str | None) -> list[int]:
    """The components a label names: by numeric id, or by name in any case. None if unknown."""
    value = (value or "").strip()
    if not value:
        return []
    if value.isascii() and value.isdigit():
        if len(value) > 9:  # beyond any id, and beyond PostgreSQL's integer
            return []
        found = session.get(Component, int(value))
        return [found.id] if found is not None else []
    return list(
        session.scalars(
            sa.select(Component.id)
            .where(sa.func.lower(Component.name) == value.lower())
            .order_by(Component.id)
        )
    )
