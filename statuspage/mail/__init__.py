"""Email: messages, transports, the one composer. Below every package that sends email.

- `message`: building an `EmailMessage`; `header_text` and `format_address` keep every header
  value on one line.
- `transports`: SMTP and files (and `sendgrid`, loaded only when chosen); each sends batches,
  and a single message is a batch of one.
- `mailer`: the `Mailer` for single messages (staff and subscription emails).
- `templates`: `render_email`, the bodies of every email from `templates/email/`.

Imports only `statuspage.core` and third-party libraries; no Flask. Settings arrive as a
mapping (the app's config) from whoever builds the transport, a worker task or a CLI command:

| setting | default | meaning |
|---|---|---|
| `MAIL_FROM` | `status@localhost` | From; `Name <address>` allowed |
| `MAIL_TRANSPORT` | `file` developing and testing, else `smtp` | `file`, `smtp`, `sendgrid` |
| `MAIL_FILE_DIR` | `instance/mail` | where the file transport writes `.eml` files |
| `MAIL_SMTP_HOST`, `MAIL_SMTP_PORT` | `localhost`, `587` | the SMTP server |
| `MAIL_SMTP_USERNAME`, `MAIL_SMTP_PASSWORD` | empty | log in when a username is set |
| `MAIL_SMTP_STARTTLS` | `true` | upgrade the connection with STARTTLS before anything else |
| `MAIL_SMTP_TIMEOUT` | `10` | seconds for connecting and for each SMTP command |
| `SENDGRID_API_KEY`, `SENDGRID_API_HOST`, `SENDGRID_TIMEOUT` | | see `mail.sendgrid` |
| `SITE_URL`, `SITE_NAME` | | the base of links in emails, the name they carry |
"""
