"""Maintenance that runs itself: reminders, automatic start, automatic completion.

`run_maintenance_automation` is called every minute by the worker (and can be called by hand).
It takes `now` so tests freeze the clock. It flushes and never commits: the caller commits once,
which also releases the row locks.

Two workers may run it at the same moment. Each takes its rows with
`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so a row one worker is handling is invisible
to the other, and every condition is checked again on the freshly read, locked row before
anything is done. SQLite ignores `FOR UPDATE` but lets only one writer in at a time; the second
worker then reads the first one's result and finds nothing left to do. Either way each
maintenance is started, completed and reminded about exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.core.errors import DomainError
from statuspage.incidents.maintenance import (
    REMINDER_MAX_MINUTES,
    advance_maintenance,
    send_maintenance_reminder,
)
from statuspage.incidents.models import Maintenance, MaintenanceStatus

logger = logging.getLogger(__name__)

M = MaintenanceStatus
# Bounded work per run: whatever is left waits a minute for the next run.
BATCH = 100


@dataclass
class MaintenanceAutomationReport:
    reminded: int = 0
    started: int = 0
    completed: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.reminded + self.started + self.completed


def _locked(session: Session, *conditions: sa.ColumnElement[bool]) -> list[Maintenance]:
    """Rows matching `conditions` that no other worker holds, locked, read afresh."""
    return list(
        session.scalars(
            sa.select(Maintenance)
            .where(*conditions)
            .order_by(Maintenance.scheduled_for, Maintenance.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    )


def _advance(
    session: Session, maintenance: Maintenance, status: MaintenanceStatus, now: datetime
) -> bool:
    try:
        advance_maintenance(session, maintenance, status, actor_id=None, now=now)
    except DomainError as error:
        # Checked before: only a concurrent change gets here. Leave it for a person.
        logger.warning(
            "maintenance %s: automatic move to %s refused: %s",
            maintenance.id,
            status,
            error.message,
        )
        return False
    logger.info("maintenance %s moved to %s automatically", maintenance.id, status)
    return True


def run_maintenance_automation(session: Session, *, now: datetime) -> MaintenanceAutomationReport:
    report = MaintenanceAutomationReport()

    # Reminders first: a window that starts in this same run has started, and gets none.
    for maintenance in _locked(
        session,
        Maintenance.status == M.SCHEDULED,
        Maintenance.reminder_minutes_before.is_not(None),
        Maintenance.reminder_sent_at.is_(None),
        Maintenance.scheduled_for > now,
        # The longest reminder bounds the rows read; the exact time is checked per row.
        Maintenance.scheduled_for <= now + timedelta(minutes=REMINDER_MAX_MINUTES),
    ):
        if send_maintenance_reminder(session, maintenance, actor_id=None, now=now):
            report.reminded += 1

    for maintenance in _locked(
        session,
        Maintenance.status == M.SCHEDULED,
        Maintenance.auto_start.is_(True),
        Maintenance.scheduled_for <= now,
    ):
        if maintenance.status == M.SCHEDULED and maintenance.auto_start:
            if _advance(session, maintenance, M.IN_PROGRESS, now):
                report.started += 1
            else:
                report.failed += 1

    # After the starts, so a window the worker missed entirely starts and completes in one run.
    for maintenance in _locked(
        session,
        Maintenance.status.in_((M.IN_PROGRESS, M.VERIFYING)),
        Maintenance.auto_complete.is_(True),
        Maintenance.scheduled_until <= now,
    ):
        if maintenance.status in (M.IN_PROGRESS, M.VERIFYING) and maintenance.auto_complete:
            if _advance(session, maintenance, M.COMPLETED, now):
                report.completed += 1
            else:
                report.failed += 1

    session.flush()
    if report.total or report.failed:
        logger.info(
            "maintenance automation: %s reminded, %s started, %s completed, %s refused",
            report.reminded,
            report.started,
            report.completed,
            report.failed,
        )
    return report
