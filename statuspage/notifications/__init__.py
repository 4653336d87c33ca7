"""Notifications to subscribers: subscriptions, the delivery of outbox notifications, and what
each subscriber email says.

- `subscriptions`: subscribing, confirming, changing choices, unsubscribing; who receives what.
- `subscription_emails`: the confirmation and "already subscribed" emails.
- `compose`: the subject and bodies of each notification email (rendered by `statuspage.mail`).
- `delivery`: expanding a notification into batches and sending them with retries.
- `subscriber_admin`: the staff side (list, CSV export and import, removal).
- `chat/`: Slack, Teams, Discord and SMS: their messages, senders and subscriptions.

Plain functions over an explicit session; no Flask, and nothing of the worker: the worker
(`statuspage.worker`) calls this package, never the reverse. Messages, transports and templates
are `statuspage.mail`'s.
"""
