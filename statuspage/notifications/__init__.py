"""Notifications: email composition and transports, later subscribers and the outbox.

Plain functions and small classes; nothing in this package imports Flask. Settings arrive as a
mapping (the app's config) from whoever builds the mailer: a CLI command or a worker task.
"""
