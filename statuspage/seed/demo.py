"""Demo data: a believable status page with 90 days of history.

Built only through the domain functions, so the demo exercises the same code as real use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.components.models import Component, ComponentGroup, ComponentStatus
from statuspage.components.status import add_component
from statuspage.incidents import reviews
from statuspage.incidents.closure import ClosureReportText, write_closure_report
from statuspage.incidents.lifecycle import TransitionDetails, transition_incident
from statuspage.incidents.maintenance import (
    NewMaintenance,
    advance_maintenance,
    schedule_maintenance,
)
from statuspage.incidents.models import (
    Category,
    Incident,
    IncidentSource,
    IncidentStatus,
    Level,
    MaintenanceStatus,
    Priority,
    PublicStatus,
)
from statuspage.incidents.operations import (
    NewIncident,
    categorize_incident,
    open_incident,
    post_update,
)

GROUPS = {
    "Customer-facing": ["Website", "Dashboard", "Mobile app", "Checkout"],
    "API": ["REST API", "Webhooks", "Authentication", "Search"],
    "Infrastructure": ["Database", "Email delivery", "File storage", "CDN"],
}

CATEGORIES = {
    "Infrastructure": ["Database", "Network", "Storage"],
    "Application": ["Defect", "Performance", "Deployment"],
    "Third party": ["Cloud provider", "Email provider"],
}

C = ComponentStatus


@dataclass(frozen=True)
class PastIncident:
    days_ago: int
    start_hour: int
    minutes: int
    title: str
    components: dict[str, ComponentStatus]
    impact: Level
    urgency: Level
    category: tuple[str, str]
    cause: str


PAST_INCIDENTS = [
    PastIncident(
        84,
        9,
        95,
        "Dashboard pages loading slowly",
        {"Dashboard": C.DEGRADED_PERFORMANCE},
        Level.LOW,
        Level.MEDIUM,
        ("Application", "Performance"),
        "A slow query introduced by a new report filter.",
    ),
    PastIncident(
        71,
        22,
        340,
        "Email notifications delayed",
        {"Email delivery": C.PARTIAL_OUTAGE, "Webhooks": C.DEGRADED_PERFORMANCE},
        Level.MEDIUM,
        Level.MEDIUM,
        ("Third party", "Email provider"),
        "Our email provider throttled sending after a traffic surge.",
    ),
    PastIncident(
        58,
        14,
        48,
        "Checkout unavailable",
        {"Checkout": C.MAJOR_OUTAGE, "REST API": C.PARTIAL_OUTAGE},
        Level.HIGH,
        Level.HIGH,
        ("Application", "Deployment"),
        "A configuration change disabled the payment gateway connection.",
    ),
    PastIncident(
        45,
        3,
        1570,
        "Intermittent file upload failures",
        {"File storage": C.PARTIAL_OUTAGE},
        Level.MEDIUM,
        Level.LOW,
        ("Infrastructure", "Storage"),
        "One storage node had a failing disk controller.",
    ),
    PastIncident(
        31,
        16,
        25,
        "Login errors for some users",
        {"Authentication": C.PARTIAL_OUTAGE},
        Level.MEDIUM,
        Level.HIGH,
        ("Application", "Defect"),
        "An expired signing certificate on one login server.",
    ),
    PastIncident(
        19,
        11,
        130,
        "Search results out of date",
        {"Search": C.DEGRADED_PERFORMANCE},
        Level.LOW,
        Level.LOW,
        ("Application", "Performance"),
        "The indexing queue stalled after a worker ran out of memory.",
    ),
    PastIncident(
        9,
        7,
        210,
        "Database failover caused errors",
        {"Database": C.MAJOR_OUTAGE, "REST API": C.MAJOR_OUTAGE, "Dashboard": C.PARTIAL_OUTAGE},
        Level.HIGH,
        Level.HIGH,
        ("Infrastructure", "Database"),
        "The primary database lost its network link and the failover took too long.",
    ),
    PastIncident(
        4,
        23,
        70,
        "Images not loading in some regions",
        {"CDN": C.PARTIAL_OUTAGE},
        Level.MEDIUM,
        Level.MEDIUM,
        ("Third party", "Cloud provider"),
        "An edge location of our CDN provider returned errors.",
    ),
    PastIncident(
        2,
        13,
        35,
        "Mobile app push notifications delayed",
        {"Mobile app": C.DEGRADED_PERFORMANCE},
        Level.LOW,
        Level.MEDIUM,
        ("Application", "Defect"),
        "A retry loop in the notification service held messages back.",
    ),
]


def _plan(now: datetime) -> Iterator[tuple[str, Callable[[Session], None]]]:
    """Each step of the seeding with a label, so the CLI can show progress."""
    state: dict[str, dict[str, int]] = {"components": {}, "categories": {}}
    created = now - timedelta(days=100)

    def groups_and_components(session: Session) -> None:
        for group_position, (group_name, names) in enumerate(GROUPS.items()):
            group = ComponentGroup(
                name=group_name, position=group_position, created_at=created, updated_at=created
            )
            session.add(group)
            session.flush()
            for position, name in enumerate(names):
                component = add_component(
                    session, name=name, group_id=group.id, position=position, now=created
                )
                state["components"][name] = component.id
        for position, (parent_name, children) in enumerate(CATEGORIES.items()):
            parent = Category(name=parent_name, position=position)
            session.add(parent)
            session.flush()
            state["categories"][parent_name] = parent.id
            for child_position, child in enumerate(children):
                sub = Category(name=child, parent_id=parent.id, position=child_position)
                session.add(sub)
                session.flush()
                state["categories"][f"{parent_name}/{child}"] = sub.id

    yield "components", groups_and_components

    for past in PAST_INCIDENTS:

        def seed_past(session: Session, past: PastIncident = past) -> None:
            day = (now - timedelta(days=past.days_ago)).replace(
                hour=past.start_hour, minute=12, second=0, microsecond=0
            )
            _seed_past_incident(session, past, day, state)

        yield past.title, seed_past

    def maintenance(session: Session) -> None:
        components = state["components"]
        start = (now - timedelta(days=12)).replace(hour=2, minute=0, second=0, microsecond=0)
        done = schedule_maintenance(
            session,
            NewMaintenance(
                title="Database version upgrade",
                body="We are upgrading the primary database to a new major version. "
                "The API and dashboard may be read-only for a few minutes.",
                scheduled_for=start,
                scheduled_until=start + timedelta(hours=2),
                component_ids=[components["Database"]],
            ),
            actor_id=None,
            now=start - timedelta(days=7),
            notify=False,  # history: nobody is to be emailed about it now
        )
        advance_maintenance(
            session,
            done,
            MaintenanceStatus.IN_PROGRESS,
            body="The upgrade has started.",
            actor_id=None,
            now=start,
            notify=False,
        )
        advance_maintenance(
            session,
            done,
            MaintenanceStatus.COMPLETED,
            body="The upgrade is complete and everything is running normally.",
            actor_id=None,
            now=start + timedelta(minutes=95),
            notify=False,
        )
        upcoming = (now + timedelta(days=3)).replace(hour=3, minute=0, second=0, microsecond=0)
        schedule_maintenance(
            session,
            NewMaintenance(
                title="Search cluster upgrade",
                body="Search will be slower than usual while we move it to new hardware.",
                scheduled_for=upcoming,
                scheduled_until=upcoming + timedelta(hours=3),
                component_ids=[components["Search"]],
            ),
            actor_id=None,
            now=now - timedelta(days=1),
        )

    yield "maintenance", maintenance

    def active(session: Session) -> None:
        components = state["components"]
        started = now - timedelta(minutes=52)
        incident = open_incident(
            session,
            NewIncident(
                title="Elevated API error rates",
                description="Alert from API gateway: 5xx ratio above 4% for 5 minutes.",
                source=IncidentSource.MONITORING,
                impact_started_at=started,
                detected_at=started + timedelta(minutes=3),
                component_ids=[components["REST API"], components["Webhooks"]],
            ),
            actor_id=None,
            now=started + timedelta(minutes=4),
        )
        categorize_incident(
            session,
            incident,
            category_id=state["categories"]["Infrastructure"],
            subcategory_id=state["categories"]["Infrastructure/Network"],
            impact=Level.HIGH,
            urgency=Level.MEDIUM,
            actor_id=None,
            now=started + timedelta(minutes=5),
        )
        transition_incident(
            session,
            incident,
            IncidentStatus.INVESTIGATING,
            actor_id=None,
            now=started + timedelta(minutes=6),
        )
        post_update(
            session,
            incident,
            status=PublicStatus.INVESTIGATING,
            body="We are investigating elevated error rates on the REST API. "
            "Some requests fail with a 502 error.",
            component_statuses={
                components["REST API"]: C.PARTIAL_OUTAGE,
                components["Webhooks"]: C.DEGRADED_PERFORMANCE,
            },
            actor_id=None,
            now=started + timedelta(minutes=8),
        )
        post_update(
            session,
            incident,
            status=PublicStatus.INVESTIGATING,
            body="We are still investigating. Retrying failed requests usually succeeds.",
            actor_id=None,
            now=started + timedelta(minutes=25),
        )
        transition_incident(
            session,
            incident,
            IncidentStatus.IDENTIFIED,
            actor_id=None,
            now=started + timedelta(minutes=38),
        )
        post_update(
            session,
            incident,
            status=PublicStatus.IDENTIFIED,
            body="We found a faulty load balancer node and are taking it out of rotation. "
            "Webhook deliveries are queued and will be sent.",
            actor_id=None,
            now=started + timedelta(minutes=40),
        )

    yield "active incident", active


def _seed_past_incident(
    session: Session, past: PastIncident, started: datetime, state: dict[str, dict[str, int]]
) -> None:
    components = state["components"]
    ids = {components[name]: status for name, status in past.components.items()}
    end = started + timedelta(minutes=past.minutes)
    detected = started + timedelta(minutes=min(6, past.minutes // 8 + 1))
    incident = open_incident(
        session,
        NewIncident(
            title=past.title,
            source=IncidentSource.MONITORING
            if past.impact != Level.LOW
            else IncidentSource.CUSTOMER,
            impact_started_at=started,
            detected_at=detected,
            component_ids=list(ids),
        ),
        actor_id=None,
        now=detected,
    )
    parent, child = past.category
    categorize_incident(
        session,
        incident,
        category_id=state["categories"][parent],
        subcategory_id=state["categories"][f"{parent}/{child}"],
        impact=past.impact,
        urgency=past.urgency,
        actor_id=None,
        now=detected,
    )
    step = max(1, past.minutes // 5)
    transition_incident(
        session,
        incident,
        IncidentStatus.INVESTIGATING,
        actor_id=None,
        now=detected + timedelta(minutes=1),
    )
    post_update(
        session,
        incident,
        status=PublicStatus.INVESTIGATING,
        body=f"We are investigating reports of problems: {past.title.lower()}.",
        component_statuses=ids,
        actor_id=None,
        now=detected + timedelta(minutes=2),
    )
    transition_incident(
        session,
        incident,
        IncidentStatus.IDENTIFIED,
        actor_id=None,
        now=started + timedelta(minutes=2 * step),
    )
    post_update(
        session,
        incident,
        status=PublicStatus.IDENTIFIED,
        body=f"We have found the cause: {past.cause[0].lower()}{past.cause[1:]}",
        actor_id=None,
        now=started + timedelta(minutes=2 * step),
    )
    post_update(
        session,
        incident,
        status=PublicStatus.MONITORING,
        body="A fix is in place and we are watching the results.",
        component_statuses={cid: C.OPERATIONAL for cid in ids},
        actor_id=None,
        now=started + timedelta(minutes=4 * step),
    )
    transition_incident(
        session,
        incident,
        IncidentStatus.RESOLVED,
        actor_id=None,
        now=end,
        details=TransitionDetails(
            resolution_code="fixed",
            resolution_summary=past.cause,
            verification="Error rates and latency back to normal for 30 minutes.",
        ),
    )
    post_update(
        session,
        incident,
        status=PublicStatus.RESOLVED,
        body="This incident has been resolved. Thank you for your patience.",
        actor_id=None,
        now=end,
    )
    write_closure_report(
        session,
        incident,
        ClosureReportText(
            summary=f"{past.title} for {past.minutes} minutes.",
            impact="Customers using " + ", ".join(past.components) + " were affected.",
            cause=past.cause,
            resolution="We fixed the cause and verified that the service recovered.",
            prevention="We added monitoring for this failure and a runbook for the response.",
        ),
        actor_id=None,
        now=end + timedelta(hours=2),
    )
    if incident.priority in (Priority.P1, Priority.P2) and not state.get("review_published"):
        # The first serious one has its review done and published, action items and all.
        state["review_published"] = {"incident": incident.id}
        _publish_demo_review(session, incident, past, end)
    elif incident.priority in (Priority.P1, Priority.P2):
        # The review is under way; closing waits for its approval.
        transition_incident(
            session,
            incident,
            IncidentStatus.POST_INCIDENT,
            actor_id=None,
            now=end + timedelta(hours=3),
        )
    else:
        transition_incident(
            session, incident, IncidentStatus.CLOSED, actor_id=None, now=end + timedelta(hours=3)
        )


def _publish_demo_review(
    session: Session, incident: Incident, past: PastIncident, end: datetime
) -> None:
    at = end + timedelta(days=2)
    transition_incident(
        session, incident, IncidentStatus.POST_INCIDENT, actor_id=None, now=end + timedelta(hours=3)
    )
    review = reviews.start_review(session, incident, actor_id=None, now=at)
    reviews.update_review(
        session,
        review,
        reviews.ReviewText(
            summary=f"{past.title}: {past.cause[0].lower()}{past.cause[1:]}",
            impact="Customers using " + ", ".join(past.components) + " saw errors.",
            trigger=past.cause,
            detection="An alert on the error rate paged the on-call engineer.",
            response="The on-call engineer opened an incident and brought in the service owner.",
            recovery="The fix was deployed and verified against the error-rate dashboard.",
            contributing_factors="The failure mode had no alert of its own.",
            went_well="Detection took minutes, and the first public update followed soon after.",
            went_badly="The runbook for this service was out of date.",
            got_lucky="It happened outside the busiest hours.",
            communications="Updates went out at every status change.",
        ),
        actor_id=None,
        now=at,
    )
    for title, priority, done in (
        ("Add an alert for this failure mode", Priority.P2, True),
        ("Update the runbook", Priority.P3, True),
        ("Test the failover every quarter", Priority.P3, False),
    ):
        item = reviews.add_action_item(
            session,
            incident,
            review,
            reviews.ActionItemInput(title=title, priority=priority),
            actor_id=None,
            now=at,
        )
        if done:
            reviews.set_action_item_status(
                session, incident, review, item.id, "done", actor_id=None, now=at
            )
    for target in ("in_review", "approved"):
        reviews.move_review(session, incident, review, target, actor_id=None, now=at)
    reviews.publish_review(session, incident, review, publish_publicly=True, actor_id=None, now=at)
    transition_incident(session, incident, IncidentStatus.CLOSED, actor_id=None, now=at)


class DemoDataExists(RuntimeError):
    pass


def has_data(session: Session) -> bool:
    return session.scalar(sa.select(sa.func.count(Component.id))) != 0


def demo_steps(session: Session, *, now: datetime) -> list[tuple[str, Callable[[Session], None]]]:
    if has_data(session):
        raise DemoDataExists(
            "The database already has components; seed-demo only fills an empty one."
        )
    return list(_plan(now))


def incident_count(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count(Incident.id))) or 0
