"""Every task and schedule of the worker, in one import: the consumer's entry point.

`huey_consumer statuspage.worker.tasks.huey -w 2 -k thread` and `flask --app app worker` load
this module, so that the consumer knows every task and runs every periodic one:

| task | when | module |
|---|---|---|
| `sla_check` | every minute | `worker.incidents` |
| `public_automation` | every minute | `worker.incidents` |
| `delivery_sweep` | every minute | `worker.delivery` |
| `deliver_notification` | after the commit that wrote a notification | `worker.delivery` |
| `send_due_batches` | after a notification was expanded into several batches | `worker.delivery` |
| `send_subscription_email` | after a subscribe or an import | `worker.subscriptions` |
| `snapshot_check` | every minute | `worker.snapshot` |
| `export_snapshot` | after a commit that changed the public version | `worker.snapshot` |
"""

from __future__ import annotations

from statuspage.worker.delivery import (
    deliver_notification_task,
    delivery_sweep_task,
    run_delivery,
    send_due_batches_task,
)
from statuspage.worker.incidents import (
    public_automation_task,
    run_public_automation,
    run_sla_check,
    sla_check_task,
)
from statuspage.worker.queue import (
    POLL_MAX_DELAY,
    app_context,
    bind_app,
    build_huey,
    get_app,
    huey,
)
from statuspage.worker.snapshot import (
    export_snapshot_task,
    run_snapshot_export,
    snapshot_check_task,
)
from statuspage.worker.subscriptions import send_subscription_email, send_subscription_email_task

__all__ = [
    "POLL_MAX_DELAY",
    "app_context",
    "bind_app",
    "build_huey",
    "deliver_notification_task",
    "delivery_sweep_task",
    "export_snapshot_task",
    "get_app",
    "huey",
    "public_automation_task",
    "run_delivery",
    "run_public_automation",
    "run_sla_check",
    "run_snapshot_export",
    "send_due_batches_task",
    "send_subscription_email",
    "send_subscription_email_task",
    "sla_check_task",
    "snapshot_check_task",
]
