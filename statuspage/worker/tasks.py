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
| `send_reader_link` | after a reader asked for a sign-in link | `worker.readers` |
| `deliver_channels` | after the commit that wrote a notification | `worker.channels` |
| `send_due_channels` | after a subscribe, a replay, or when a retry is due | `worker.channels` |
| `channel_sweep` | every minute | `worker.channels` |
| `send_channel_disabled_email` | when a channel subscription is disabled | `worker.channels` |
| `snapshot_check` | every minute | `worker.snapshot` |
| `export_snapshot` | after a commit that changed the public version | `worker.snapshot` |
| `uptime_days` | every 15 minutes | `worker.uptime` |
"""

from __future__ import annotations

from statuspage.worker.channels import (
    channel_sweep_task,
    deliver_channels_task,
    run_channels,
    send_channel_disabled_email_task,
    send_due_channels_task,
)
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
from statuspage.worker.readers import send_reader_link, send_reader_link_task
from statuspage.worker.snapshot import (
    export_snapshot_task,
    run_snapshot_export,
    snapshot_check_task,
)
from statuspage.worker.subscriptions import send_subscription_email, send_subscription_email_task
from statuspage.worker.uptime import run_uptime_days, uptime_days_task

__all__ = [
    "POLL_MAX_DELAY",
    "app_context",
    "channel_sweep_task",
    "deliver_channels_task",
    "run_channels",
    "send_channel_disabled_email_task",
    "send_due_channels_task",
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
    "run_uptime_days",
    "run_snapshot_export",
    "send_due_batches_task",
    "send_reader_link",
    "send_reader_link_task",
    "send_subscription_email",
    "send_subscription_email_task",
    "sla_check_task",
    "snapshot_check_task",
    "uptime_days_task",
]
