"""Periodic staff-side work: the SLA check, maintenance automation, next-update reminders.

- `sla_check_task`, every minute: `incidents.escalation.check_sla` in an app context, then
  commit.
- `public_automation_task`, every minute: scheduled maintenance that starts or completes by
  itself, and its reminders to subscribers (`incidents.automation`); then the staff reminders
  for "next update by" times that passed without an update (`incidents.updates`). Each part
  commits on its own, so one failing does not hold back the other.
"""

from __future__ import annotations

import logging
from datetime import datetime

from huey import crontab

from statuspage.core.db import utcnow
from statuspage.extensions import db
from statuspage.incidents.automation import MaintenanceAutomationReport, run_maintenance_automation
from statuspage.incidents.escalation import SlaCheckReport, check_sla
from statuspage.incidents.updates import check_next_updates
from statuspage.mail.mailer import mailer_from_config
from statuspage.worker.queue import app_context, branded_config, huey

logger = logging.getLogger(__name__)


def run_sla_check(*, now: datetime | None = None) -> SlaCheckReport:
    """Check the SLA clocks, escalate breaches and commit, once."""
    with app_context() as app:
        mailer = mailer_from_config(branded_config(app), instance_path=app.instance_path)
        try:
            report = check_sla(db.session, now=now or utcnow(), mailer=mailer)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return report


# `expires`: a run that waited in the queue for a minute is dropped, as the next one is due.
@huey.periodic_task(crontab(minute="*"), expires=60, name="sla_check")
def sla_check_task() -> None:
    report = run_sla_check()
    if report.findings or report.failures or report.state_changes:
        logger.info(
            "SLA check: %d incident(s), %d at risk, %d breached, %d email(s) sent, %d failed",
            report.checked,
            report.at_risk,
            report.breached,
            report.emails_sent,
            report.failures,
        )
    # Returns nothing, so Huey stores no result that nobody would read.


def run_public_automation(
    *, now: datetime | None = None
) -> tuple[MaintenanceAutomationReport, int]:
    """Run maintenance automation, then the next-update reminders; commit after each."""
    moment = now or utcnow()
    with app_context() as app:
        try:
            maintenance = run_maintenance_automation(db.session, now=moment)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        mailer = mailer_from_config(branded_config(app), instance_path=app.instance_path)
        try:
            reminded = check_next_updates(db.session, now=moment, mailer=mailer)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return maintenance, reminded


@huey.periodic_task(crontab(minute="*"), expires=60, name="public_automation")
def public_automation_task() -> None:
    maintenance, reminded = run_public_automation()
    if maintenance.total or maintenance.failed or reminded:
        logger.info(
            "Maintenance: %d reminder(s), %d started, %d completed, %d refused; "
            "%d next-update reminder(s)",
            maintenance.reminded,
            maintenance.started,
            maintenance.completed,
            maintenance.failed,
            reminded,
        )
