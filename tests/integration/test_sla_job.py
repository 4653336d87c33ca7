"""The SLA job on a frozen clock: each crossing recorded once, each breach escalated once.

Runs on SQLite and PostgreSQL. `T0` is a fixed instant; every run passes its `now` explicitly.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.core.models import AuditEntry, TimelineEvent
from statuspage.extensions import db
from statuspage.incidents import escalation
from statuspage.incidents.escalation import check_sla
from statuspage.incidents.lifecycle import TransitionDetails, transition_incident
from statuspage.incidents.models import (
    Incident,
    IncidentStatus,
    Level,
    Priority,
    PublicStatus,
    SlaEvent,
    SlaPolicy,
    SlaState,
    SlaTarget,
)
from statuspage.incidents.operations import (
    NewIncident,
    categorize_incident,
    open_incident,
    post_update,
)
from statuspage.mail.mailer import Mailer, mailer_from_config
from statuspage.mail.transports import SmtpTransport

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
CONTACTS = ["oncall@example.com", "Head of Ops <head@example.com>"]
CONTACT_ADDRESSES = ["oncall@example.com", "head@example.com"]


def minutes(value: float) -> datetime:
    return T0 + timedelta(minutes=value)


# Fixtures and helpers


def set_contacts(session: Session, contacts: list[str], priority: Priority = Priority.P1) -> None:
    row = session.scalar(sa.select(SlaPolicy).where(SlaPolicy.priority == priority))
    row.escalation_contacts = list(contacts)
    session.flush()


@pytest.fixture
def open_p1(session: Session) -> Callable[..., Incident]:
    """A P1 incident (impact and urgency high) detected at `at`; P1 allows 60 minutes to
    acknowledge, 240 to mitigate, 480 to resolve and 30 between public updates."""

    def make(
        title: str = "Database down",
        *,
        at: datetime = T0,
        public: bool = False,
        contacts: list[str] | None = None,
    ) -> Incident:
        set_contacts(session, CONTACTS if contacts is None else contacts)
        incident = open_incident(
            session,
            NewIncident(title=title, impact_started_at=at, detected_at=at),
            actor_id=None,
            now=at,
        )
        categorize_incident(
            session,
            incident,
            category_id=None,
            subcategory_id=None,
            impact=Level.HIGH,
            urgency=Level.HIGH,
            actor_id=None,
            now=at,
        )
        assert incident.priority == Priority.P1
        if public:
            post_update(
                session,
                incident,
                status=PublicStatus.INVESTIGATING,
                body="We are looking into it.",
                actor_id=None,
                now=at,
            )
        session.flush()
        return incident

    return make


def sent(mail_dir: Path) -> list[EmailMessage]:
    if not mail_dir.exists():
        return []
    return [
        message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for path in sorted(mail_dir.glob("*.eml"))
    ]


def events(session: Session, incident: Incident) -> list[tuple[SlaTarget, SlaState]]:
    rows = session.scalars(
        sa.select(SlaEvent).where(SlaEvent.incident_id == incident.id).order_by(SlaEvent.id)
    )
    return [(row.target, row.state) for row in rows]


def timeline(session: Session, incident: Incident, kind: str) -> list[TimelineEvent]:
    return list(
        session.scalars(
            sa.select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == kind)
            .order_by(TimelineEvent.id)
        )
    )


def audit_actions(session: Session, incident: Incident) -> list[str]:
    return list(
        session.scalars(
            sa.select(AuditEntry.action)
            .where(AuditEntry.entity_type == "incident", AuditEntry.entity_id == incident.id)
            .order_by(AuditEntry.id)
        )
    )


class Outbox:
    """A transport that keeps what it was given."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.messages.append(message)


class BrokenTransport:
    def send(self, message: EmailMessage) -> None:
        raise ConnectionRefusedError("the mail server is down")


# Recording and escalating once


def test_at_risk_then_breached_are_recorded_once_each_and_escalated_once(
    session: Session, open_p1: Callable[..., Incident], mailer: Mailer, mail_dir: Path
) -> None:
    incident = open_p1()
    ack = SlaTarget.ACKNOWLEDGE

    quiet = check_sla(session, now=minutes(44), mailer=mailer)  # 73% of 60 minutes
    assert (quiet.checked, quiet.findings, quiet.state_changes) == (1, [], 0)
    assert incident.sla_state == SlaState.OK

    at_risk = check_sla(session, now=minutes(45), mailer=mailer)  # 75%
    assert [(f.target, f.state) for f in at_risk.findings] == [(ack, SlaState.AT_RISK)]
    assert at_risk.emails_sent == 0
    assert incident.sla_state == SlaState.AT_RISK
    assert check_sla(session, now=minutes(50), mailer=mailer).findings == []

    breached = check_sla(session, now=minutes(60), mailer=mailer)  # 100%
    assert [(f.target, f.state) for f in breached.findings] == [(ack, SlaState.BREACHED)]
    assert (breached.breached, breached.emails_sent, breached.failures) == (1, 1, 0)
    assert incident.sla_state == SlaState.BREACHED

    for later in (61, 75, 120):
        again = check_sla(session, now=minutes(later), mailer=mailer)
        assert again.breached == 0 and again.emails_sent == 0

    assert events(session, incident) == [(ack, SlaState.AT_RISK), (ack, SlaState.BREACHED)]
    breach = session.scalar(sa.select(SlaEvent).where(SlaEvent.state == SlaState.BREACHED))
    assert breach.escalated_to == ["oncall@example.com", "Head of Ops <head@example.com>"]
    assert breach.due_at == minutes(60)
    assert breach.occurred_at == minutes(60)

    assert len(timeline(session, incident, "sla_at_risk")) == 1
    [breach_event] = timeline(session, incident, "sla_breached")
    assert breach_event.summary == (
        "SLA breached: acknowledge target was due 2026-03-02 09:00 UTC; escalated to 2 contact(s)"
    )
    assert breach_event.actor_id is None and breach_event.occurred_at == minutes(60)
    actions = audit_actions(session, incident)
    assert actions.count("sla_at_risk") == 1 and actions.count("sla_breached") == 1
    assert actions.count("sla_state") == 2  # ok -> at risk -> breached

    assert len(sent(mail_dir)) == 1


def test_the_escalation_email(
    session: Session, open_p1: Callable[..., Incident], mailer: Mailer, mail_dir: Path
) -> None:
    incident = open_p1("Database down")
    check_sla(session, now=minutes(60), mailer=mailer)

    [message] = sent(mail_dir)
    assert [a.addr_spec for a in message["To"].addresses] == CONTACT_ADDRESSES
    assert message["From"] == "status@localhost"
    assert message["Subject"] == (
        f"[SLA breached] P1 #{incident.id} Database down: acknowledge target"
    )
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(("plain",)).get_content()
    assert f"#{incident.id} Database down" in text
    assert "acknowledge within 60 minutes" in text
    assert "Due:           2026-03-02 09:00 UTC" in text
    assert f"http://localhost/admin/incidents/{incident.id}" in text
    html = message.get_body(("html",)).get_content()
    assert f'href="http://localhost/admin/incidents/{incident.id}"' in html


def test_the_escalation_email_comes_from_its_template_and_escapes_the_title(
    app: Any, session: Session, open_p1: Callable[..., Incident], mail_dir: Path
) -> None:
    app.config["SITE_NAME"] = "Example <Status>"
    mailer = mailer_from_config(app.config, instance_path=app.instance_path)
    incident = open_p1('<img src=x onerror="alert(1)"> & <b>down</b>')
    check_sla(session, now=minutes(60), mailer=mailer)

    [message] = sent(mail_dir)
    html = message.get_body(("html",)).get_content()
    # The shared email layout (templates/email/_layout.html) and the escalation's own table.
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html
    assert "<title>SLA breached: incident #" in html
    assert "Example &lt;Status&gt;" in html and "All times are in UTC." in html
    assert '<th scope="row" align="left">Due</th><td>2026-03-02 09:00 UTC</td>' in html
    # What staff typed is text in the HTML, never markup.
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; &lt;b&gt;down&lt;/b&gt;" in html
    assert "<img" not in html and "<b>" not in html
    text = message.get_body(("plain",)).get_content()
    assert f'Incident:      #{incident.id} <img src=x onerror="alert(1)"> & <b>down</b>' in text


def test_line_breaks_in_an_incident_title_never_reach_a_header(
    session: Session, open_p1: Callable[..., Incident], mailer: Mailer, mail_dir: Path
) -> None:
    incident = open_p1("Database down\r\nBcc: attacker@example.net\r\nX-Evil: 1")
    check_sla(session, now=minutes(60), mailer=mailer)

    [path] = sorted(mail_dir.glob("*.eml"))
    headers = path.read_bytes().split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert not any(line.lower().startswith((b"bcc", b"x-evil")) for line in headers)
    [message] = sent(mail_dir)
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["Subject"] == (
        f"[SLA breached] P1 #{incident.id} Database down Bcc: attacker@example.net "
        "X-Evil: 1: acknowledge target"
    )
    assert [a.addr_spec for a in message["To"].addresses] == CONTACT_ADDRESSES


def test_the_badge_returns_to_ok_when_the_clocks_stop(
    session: Session, open_p1: Callable[..., Incident], mailer: Mailer, mail_dir: Path
) -> None:
    incident = open_p1()
    check_sla(session, now=minutes(60), mailer=mailer)
    assert incident.sla_state == SlaState.BREACHED
    version = incident.version

    transition_incident(
        session, incident, IncidentStatus.INVESTIGATING, actor_id=None, now=minutes(65)
    )
    assert incident.acknowledged_at == minutes(65)
    report = check_sla(session, now=minutes(66), mailer=mailer)
    assert report.state_changes == 1 and report.findings == []
    assert incident.sla_state == SlaState.OK
    assert incident.version == version + 1  # the transition's bump only, none by the job
    session.expire_all()
    assert session.get(Incident, incident.id).sla_state == SlaState.OK
    # The breach stays on record.
    assert events(session, incident) == [(SlaTarget.ACKNOWLEDGE, SlaState.BREACHED)]
    assert len(sent(mail_dir)) == 1


def test_a_cancelled_incident_loses_its_badge_and_escalates_nothing(
    session: Session, open_p1: Callable[..., Incident], mailer: Mailer, mail_dir: Path
) -> None:
    incident = open_p1()
    check_sla(session, now=minutes(50), mailer=mailer)
    assert incident.sla_state == SlaState.AT_RISK
    transition_incident(
        session,
        incident,
        IncidentStatus.CANCELLED,
        actor_id=None,
        now=minutes(55),
        details=TransitionDetails(reason="False alarm"),
    )
    report = check_sla(session, now=minutes(600), mailer=mailer)
    assert incident.sla_state == SlaState.OK
    assert report.findings == [] and report.state_changes == 1
    assert sent(mail_dir) == []
    assert check_sla(session, now=minutes(700), mailer=mailer).checked == 0


def test_an_unprioritized_incident_has_no_clocks(
    session: Session, mailer: Mailer, mail_dir: Path
) -> None:
    open_incident(session, NewIncident(title="Untriaged", detected_at=T0), actor_id=None, now=T0)
    report = check_sla(session, now=minutes(6000), mailer=mailer)
    assert report.checked == 0 and report.findings == []


def test_the_public_update_cadence_escalates_again_after_each_new_update(
    session: Session, open_p1: Callable[..., Incident], mailer: Mailer, mail_dir: Path
) -> None:
    incident = open_p1(public=True)
    # Acknowledged at once, so that only the cadence clock can breach in this test.
    transition_incident(
        session, incident, IncidentStatus.INVESTIGATING, actor_id=None, now=minutes(1)
    )
    update = SlaTarget.UPDATE

    first = check_sla(session, now=minutes(31), mailer=mailer)  # 31 of 30 minutes
    assert [(f.target, f.state) for f in first.findings] == [(update, SlaState.BREACHED)]
    assert check_sla(session, now=minutes(35), mailer=mailer).findings == []

    post_update(
        session,
        incident,
        status=PublicStatus.IDENTIFIED,
        body="We found the cause.",
        actor_id=None,
        now=minutes(40),
    )
    assert check_sla(session, now=minutes(41), mailer=mailer).state_changes == 1  # back to ok
    assert incident.sla_state == SlaState.OK
    at_risk = check_sla(session, now=minutes(63), mailer=mailer)  # 23 of 30: 76%
    assert [(f.target, f.state) for f in at_risk.findings] == [(update, SlaState.AT_RISK)]
    second = check_sla(session, now=minutes(71), mailer=mailer)
    assert [(f.target, f.state) for f in second.findings] == [(update, SlaState.BREACHED)]
    assert second.findings[0].due_at == minutes(70)
    assert check_sla(session, now=minutes(72), mailer=mailer).findings == []

    assert len(sent(mail_dir)) == 2
    assert all(m["Subject"].endswith(": public update cadence") for m in sent(mail_dir))
    assert len(timeline(session, incident, "sla_breached")) == 2
    # One row per clock and state; it holds the latest cycle, the timeline holds them all.
    breach = session.scalar(sa.select(SlaEvent).where(SlaEvent.state == SlaState.BREACHED))
    session.refresh(breach)
    assert (breach.due_at, breach.occurred_at) == (minutes(70), minutes(71))


def test_a_breach_without_contacts_is_recorded_without_email(
    session: Session, open_p1: Callable[..., Incident], mailer: Mailer, mail_dir: Path
) -> None:
    incident = open_p1(contacts=[])
    report = check_sla(session, now=minutes(60), mailer=mailer)
    assert report.breached == 1 and report.emails_sent == 0
    assert events(session, incident) == [(SlaTarget.ACKNOWLEDGE, SlaState.BREACHED)]
    [event] = timeline(session, incident, "sla_breached")
    assert event.summary.endswith("; no usable escalation contacts are set")
    assert sent(mail_dir) == []


def test_unusable_contacts_are_skipped(
    session: Session, open_p1: Callable[..., Incident], mailer: Mailer, mail_dir: Path
) -> None:
    open_p1(contacts=["not an address", "oncall@example.com", "a@example.com, b@example.com"])
    report = check_sla(session, now=minutes(60), mailer=mailer)
    assert report.emails_sent == 1
    [message] = sent(mail_dir)
    assert [a.addr_spec for a in message["To"].addresses] == ["oncall@example.com"]


def test_a_failed_email_records_nothing_and_the_next_run_retries(
    app: Any, session: Session, open_p1: Callable[..., Incident], mailer: Mailer, mail_dir: Path
) -> None:
    incident = open_p1()
    broken = Mailer(BrokenTransport(), sender="status@localhost", site_url="http://localhost")
    failed = check_sla(session, now=minutes(60), mailer=broken)
    assert (failed.failures, failed.breached, failed.emails_sent) == (1, 0, 0)
    assert events(session, incident) == []
    assert timeline(session, incident, "sla_breached") == []
    assert incident.sla_state == SlaState.BREACHED  # the badge tells the truth meanwhile

    retried = check_sla(session, now=minutes(61), mailer=mailer)
    assert (retried.failures, retried.breached, retried.emails_sent) == (0, 1, 1)
    assert events(session, incident) == [(SlaTarget.ACKNOWLEDGE, SlaState.BREACHED)]
    assert len(sent(mail_dir)) == 1


# Overlapping runs


def test_a_run_that_read_before_another_recorded_does_not_escalate_again(
    session: Session,
    open_p1: Callable[..., Incident],
    mailer: Mailer,
    mail_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run B read the recorded events before run A wrote its own: B's insert must lose."""
    incident = open_p1()
    stale = escalation._recorded_events(session, [incident.id])  # what B saw: nothing
    first = check_sla(session, now=minutes(60), mailer=mailer)
    assert first.emails_sent == 1

    monkeypatch.setattr(escalation, "_recorded_events", lambda *_: stale)
    second = check_sla(session, now=minutes(60), mailer=mailer)
    assert second.findings == [] and second.emails_sent == 0
    assert events(session, incident) == [(SlaTarget.ACKNOWLEDGE, SlaState.BREACHED)]
    assert len(timeline(session, incident, "sla_breached")) == 1
    assert len(sent(mail_dir)) == 1


def test_a_stale_run_does_not_take_over_a_cadence_breach_twice(
    session: Session,
    open_p1: Callable[..., Incident],
    mailer: Mailer,
    mail_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    incident = open_p1(public=True)
    transition_incident(
        session, incident, IncidentStatus.INVESTIGATING, actor_id=None, now=minutes(1)
    )
    check_sla(session, now=minutes(31), mailer=mailer)
    post_update(
        session,
        incident,
        status=PublicStatus.IDENTIFIED,
        body="Found it.",
        actor_id=None,
        now=minutes(40),
    )
    stale = escalation._recorded_events(session, [incident.id])  # the first cycle's breach
    assert check_sla(session, now=minutes(71), mailer=mailer).emails_sent == 1

    monkeypatch.setattr(escalation, "_recorded_events", lambda *_: stale)
    assert check_sla(session, now=minutes(71), mailer=mailer).emails_sent == 0
    assert len(sent(mail_dir)) == 2  # one per cycle, not three
    assert len(timeline(session, incident, "sla_breached")) == 2


def test_two_overlapping_runs_on_postgresql_escalate_once(
    app: Any, session: Session, open_p1: Callable[..., Incident], mail_dir: Path
) -> None:
    """Two real transactions: B's insert waits for A's uncommitted row, then finds it."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets one writer in at a time; a second run waits or fails whole")
    incident = open_p1()
    session.commit()
    outbox_a, outbox_b = Outbox(), Outbox()
    mailer_a = Mailer(outbox_a, sender="status@localhost", site_url="http://localhost")
    mailer_b = Mailer(outbox_b, sender="status@localhost", site_url="http://localhost")

    report_a = check_sla(session, now=minutes(60), mailer=mailer_a)  # flushed, not committed
    assert report_a.emails_sent == 1
    engine = db.engine
    results: dict[str, Any] = {}

    def run_b() -> None:
        with Session(engine) as other:
            try:
                results["report"] = check_sla(other, now=minutes(60), mailer=mailer_b)
                other.commit()
            except Exception as error:  # reported to the main thread
                results["error"] = error

    thread = threading.Thread(target=run_b)
    thread.start()
    with engine.connect() as probe:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            waiting = probe.execute(
                sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted")
            ).scalar_one()
            probe.rollback()
            if waiting:
                break
            time.sleep(0.05)
        assert waiting, "run B never waited for run A"
    session.commit()
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert "error" not in results, results.get("error")
    assert results["report"].findings == [] and outbox_b.messages == []
    assert len(outbox_a.messages) == 1
    assert events(session, incident) == [(SlaTarget.ACKNOWLEDGE, SlaState.BREACHED)]
    assert len(timeline(session, incident, "sla_breached")) == 1
    assert audit_actions(session, incident).count("sla_state") == 1


# The command, the task queue, SMTP


def test_flask_sla_check_command(
    runner: Any,
    session: Session,
    open_p1: Callable[..., Incident],
    mail_dir: Path,
    now: datetime,
) -> None:
    incident = open_p1(at=now - timedelta(minutes=61))
    session.commit()

    result = runner.invoke(args=["sla", "check"])
    assert result.exit_code == 0, result.output
    assert f"Incident #{incident.id} (P1): acknowledge target breached, due " in result.output
    assert "escalation email to 2 contact(s)" in result.output
    assert (
        "Checked 1 incident(s): 0 at risk, 1 breached, 1 escalation email(s) sent, "
        "1 SLA badge(s) changed." in result.output
    )
    again = runner.invoke(args=["sla", "check"])
    assert again.exit_code == 0, again.output
    assert "0 at risk, 0 breached, 0 escalation email(s) sent" in again.output
    assert len(sent(mail_dir)) == 1
    session.expire_all()
    assert session.get(Incident, incident.id).sla_state == SlaState.BREACHED


def test_flask_sla_check_fails_loudly_when_mail_cannot_be_sent(
    app: Any, runner: Any, session: Session, open_p1: Callable[..., Incident], now: datetime
) -> None:
    open_p1(at=now - timedelta(minutes=61))
    session.commit()
    app.config.update(MAIL_TRANSPORT="smtp", MAIL_SMTP_HOST="127.0.0.1", MAIL_SMTP_PORT=free_port())
    result = runner.invoke(args=["sla", "check"])
    assert result.exit_code == 1
    assert "1 escalation email(s) could not be sent" in result.output
    assert session.scalar(sa.select(sa.func.count(SlaEvent.id))) == 0


def test_the_periodic_huey_task_runs_the_check_every_minute(
    app: Any,
    session: Session,
    open_p1: Callable[..., Incident],
    mail_dir: Path,
    now: datetime,
    immediate_huey: Any,
) -> None:
    tasks = immediate_huey
    for minute in (0, 7, 59):
        due = tasks.huey.read_periodic(now.replace(minute=minute, second=0))
        assert tasks.sla_check_task.name in [task.name for task in due]
    incident = open_p1(at=now - timedelta(minutes=61))
    session.commit()

    with app.app_context():  # the app whose mail settings the test chose
        tasks.sla_check_task()  # runs here and now: immediate mode
        tasks.sla_check_task()
    session.expire_all()
    assert events(session, incident) == [(SlaTarget.ACKNOWLEDGE, SlaState.BREACHED)]
    assert session.get(Incident, incident.id).sla_state == SlaState.BREACHED
    assert len(sent(mail_dir)) == 1


def test_the_task_uses_the_bound_app_outside_an_app_context(
    app: Any,
    session: Session,
    open_p1: Callable[..., Incident],
    mail_dir: Path,
    now: datetime,
    immediate_huey: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As in the worker's threads, which have no app context of their own."""
    tasks = immediate_huey
    from statuspage.worker import queue

    monkeypatch.setattr(queue, "_app", None)
    tasks.bind_app(app)
    incident = open_p1(at=now - timedelta(minutes=61))
    session.commit()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            tasks.sla_check_task()
        except BaseException as error:  # reported to the main thread
            errors.append(error)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=30)
    assert errors == []
    session.expire_all()
    assert session.get(Incident, incident.id).sla_state == SlaState.BREACHED
    assert len(sent(mail_dir)) == 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpSink:
    """An aiosmtpd handler that keeps every envelope."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., tuple[SmtpSink, int]]]:
    from aiosmtpd.controller import Controller

    controllers: list[Any] = []

    def start(**options: Any) -> tuple[SmtpSink, int]:
        sink = SmtpSink()
        port = free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=port, **options)
        controller.start()
        controllers.append(controller)
        return sink, port

    yield start
    for controller in controllers:
        controller.stop()


def test_escalation_over_smtp_with_starttls_and_login(
    session: Session,
    open_p1: Callable[..., Incident],
    smtp_server: Callable[..., tuple[SmtpSink, int]],
) -> None:
    import trustme
    from aiosmtpd.smtp import AuthResult, LoginPassword

    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    logins: list[tuple[bytes, bool]] = []

    def authenticate(server: Any, smtp_session: Any, envelope: Any, mechanism: str, data: Any):  # type: ignore[no-untyped-def]
        good = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"status",
            b"s3cret-password",
        )
        logins.append((data.login, smtp_session.ssl is not None))
        return AuthResult(success=good)

    sink, port = smtp_server(
        tls_context=server_context,
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=True,
    )
    transport = SmtpTransport(
        host="127.0.0.1",
        port=port,
        username="status",
        password="s3cret-password",
        starttls=True,
        timeout=5,
        ssl_context=client_context,
    )
    mailer = Mailer(transport, sender="Example Status <status@example.com>", site_url="http://x")
    incident = open_p1()

    report = check_sla(session, now=minutes(60), mailer=mailer)
    assert report.emails_sent == 1
    assert logins == [(b"status", True)]  # logged in, over TLS
    [envelope] = sink.envelopes
    assert envelope.mail_from == "status@example.com"
    assert sorted(envelope.rcpt_tos) == sorted(CONTACT_ADDRESSES)
    message = message_from_bytes(envelope.original_content, policy=policy.default)
    assert message["Subject"] == (
        f"[SLA breached] P1 #{incident.id} Database down: acknowledge target"
    )
    assert f"http://x/admin/incidents/{incident.id}" in message.get_body(("plain",)).get_content()


def test_smtp_transport_from_the_app_settings(
    app: Any,
    session: Session,
    open_p1: Callable[..., Incident],
    smtp_server: Callable[..., tuple[SmtpSink, int]],
) -> None:
    sink, port = smtp_server()
    app.config.update(
        MAIL_TRANSPORT="smtp",
        MAIL_SMTP_HOST="127.0.0.1",
        MAIL_SMTP_PORT=str(port),
        MAIL_SMTP_STARTTLS="false",
        MAIL_FROM="alerts@example.com",
    )
    open_p1()
    mailer = mailer_from_config(app.config, instance_path=app.instance_path)
    assert check_sla(session, now=minutes(60), mailer=mailer).emails_sent == 1
    [envelope] = sink.envelopes
    assert envelope.mail_from == "alerts@example.com"
    assert sorted(envelope.rcpt_tos) == sorted(CONTACT_ADDRESSES)


def test_the_check_reads_the_incidents_it_watches_through_their_indexes(
    session: Session, make_incident: Any
) -> None:
    """Nearly every incident is closed with its badge at OK; the check must not read them.
    Its query names the open statuses and the flagged states, so each half of it is a seek on
    an index; the result is what "not closed, or not OK" finds."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the plan is PostgreSQL's (SQLite has its own planner and no statistics)")
    from statuspage.incidents.models import IncidentStatus, Priority, SlaState

    cases = {
        "open": (IncidentStatus.INVESTIGATING, Priority.P2, SlaState.OK),
        "closed, badge left": (IncidentStatus.CLOSED, Priority.P2, SlaState.BREACHED),
        "closed": (IncidentStatus.CLOSED, Priority.P2, SlaState.OK),
        "open, no priority": (IncidentStatus.TRIAGE, None, SlaState.OK),
        "unprioritized, badge left": (IncidentStatus.NEW, None, SlaState.AT_RISK),
    }
    made = {}
    for title, (status, priority, state) in cases.items():
        incident = make_incident(title)
        incident.status, incident.priority, incident.sla_state = status, priority, state
        made[title] = incident.id
    session.commit()
    found = set(session.scalars(escalation.watched_incidents().with_only_columns(Incident.id)))
    old_rule = sa.or_(
        sa.and_(
            Incident.status.not_in([IncidentStatus.CLOSED, IncidentStatus.CANCELLED]),
            Incident.priority.is_not(None),
        ),
        Incident.sla_state != SlaState.OK,
    )
    assert found == set(session.scalars(sa.select(Incident.id).where(old_rule)))
    assert found == {made["open"], made["closed, badge left"], made["unprioritized, badge left"]}

    # With sequential scans priced out, only a query its indexes can answer avoids one.
    connection = session.connection()
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    statement = escalation.watched_incidents().compile(
        dialect=connection.dialect, compile_kwargs={"literal_binds": True}
    )
    plan = "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}"))
    assert "ix_incident_status" in plan and "ix_incident_sla_state" in plan, plan
    session.rollback()
