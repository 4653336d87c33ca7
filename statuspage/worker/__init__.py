"""Background work: the Huey queue, every task and its schedule, and the after-commit hooks.

- `queue`: the Huey instance (Redis or SQLite, from the environment) and the app the tasks
  run in.
- `tasks`: imports every task module, so that `huey_consumer statuspage.worker.tasks.huey`
  (or `flask --app app worker`) knows them all. The task modules, one per area:
  `incidents` (SLA check, maintenance automation and next-update reminders, every minute),
  `delivery` (outbox notifications to subscribers), `subscriptions` (confirmation and
  "already subscribed" emails), `snapshot` (the static snapshot of the public site).
- `hooks`: session hooks installed by `create_app` that enqueue work once a commit stands
  (delivery of new notifications, a snapshot export after a public change).

The domain packages know nothing of this one: the worker imports them, never the reverse.
This package is imported lazily (nothing here is loaded by `create_app` but `hooks`), so
building an app does not open the queue.
"""
