"""Account roles and what each may do: the one table the server checks for every action."""

from __future__ import annotations

import enum

from statuspage.auth.models import Role


class Permission(enum.StrEnum):
    VIEW = "view"  # read the admin area
    WORK_INCIDENTS = "work_incidents"  # log, triage, assign, tasks, notes, evidence, transitions
    PUBLISH = "publish"  # public updates, closure reports, maintenance
    # Write and save draft public updates: responders draft, communicators draft and publish.
    DRAFT_UPDATES = "draft_updates"
    CONFIGURE = "configure"  # SLA policies, categories, priority matrix, templates
    MANAGE_USERS = "manage_users"


P = Permission

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({P.VIEW}),
    Role.RESPONDER: frozenset({P.VIEW, P.WORK_INCIDENTS, P.DRAFT_UPDATES}),
    Role.COMMUNICATOR: frozenset({P.VIEW, P.PUBLISH, P.DRAFT_UPDATES}),
    Role.MANAGER: frozenset({P.VIEW, P.WORK_INCIDENTS, P.PUBLISH, P.DRAFT_UPDATES, P.CONFIGURE}),
    Role.ADMIN: frozenset(set(P)),
}


def has_permission(role: Role | str, permission: Permission) -> bool:
    return Permission(permission) in ROLE_PERMISSIONS[Role(role)]
