"""The domain packages stay free of Flask: they can run in a worker, a CLI or a test alone."""

import subprocess
import sys

DOMAIN_MODULES = [
    "statuspage.incidents.models",
    "statuspage.incidents.lifecycle",
    "statuspage.incidents.operations",
    "statuspage.incidents.maintenance",
    "statuspage.incidents.priority",
    "statuspage.incidents.queries",
    "statuspage.core.records",
    "statuspage.incidents.sla",
    "statuspage.incidents.escalation",
    "statuspage.mail.mailer",
    "statuspage.mail.transports",
    "statuspage.components.models",
    "statuspage.components.status",
    "statuspage.components.uptime",
    "statuspage.components.queries",
    "statuspage.seed.demo",
    "statuspage.seed.bench",
    "statuspage.incidents.config",
    "statuspage.incidents.casework",
    "statuspage.incidents.problems",
    "statuspage.incidents.reviews",
    "statuspage.incidents.reports",
    "statuspage.auth.users",
    "statuspage.auth.sessions",
    "statuspage.auth.permissions",
    "statuspage.auth.tokens",
    "statuspage.incidents.alerts",
    "statuspage.notifications.models",
    "statuspage.core.outbox",
    "statuspage.notifications.compose",
    "statuspage.incidents.updates",
    "statuspage.core.paging",
    "statuspage.incidents.automation",
    "statuspage.incidents.closure",
    "statuspage.mail.sendgrid",
    "statuspage.mail.templates",
    "statuspage.notifications.subscription_emails",
    "statuspage.notifications.delivery",
    "statuspage.notifications.subscriber_admin",
    "statuspage.notifications.subscriptions",
    "statuspage.core.ratelimit",
    "statuspage.auth.totp",
    "statuspage.auth.second_factor",
]


def test_domain_imports_no_flask():
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in DOMAIN_MODULES)
        + "bad = sorted(m for m in sys.modules\n"
        + "             if m == 'flask' or m.startswith(('flask.', 'flask_')))\n"
        + "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"Flask imported by the domain: {result.stdout}"


def test_the_check_itself_notices_flask():
    # Guards the test above against passing vacuously.
    code = "import sys, statuspage.extensions; print('flask' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "True"
