"""Notification channels beyond email: each builds its service's documented message from one
neutral `ChannelMessage` and sends it, Flask-free.

- `message`: the `ChannelMessage` every builder takes; `markup`: staff Markdown in each
  client's markup; `sending`: `SendResult` and the shared HTTP POST.
- `slack` (Block Kit), `teams` (Adaptive Card via a Workflows webhook), `discord` (an embed),
  `sms` (Twilio, GSM-7/UCS-2 segments) and `sms_optin` (opt-in codes, STOP/START/HELP,
  Twilio's request signatures).
"""
