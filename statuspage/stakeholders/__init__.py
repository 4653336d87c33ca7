"""Stakeholder lists: internal people told by the incident process itself.

A list (Leadership, Support, Account managers) has members (staff accounts or plain email
addresses) and rules: for which priorities and on which events it is told. The incident domain
calls `notify.notify_stakeholders` at the one place each event happens, in the same
transaction; that writes a `StakeholderMessage` with its recipients fixed at that moment and
one outbox row, which the worker delivers like any other notification. Flask-free.

This package imports only `core` and `auth`, so that `incidents` may call it.
"""
