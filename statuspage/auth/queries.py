"""Queries about staff accounts for the pages that name or choose people.

Two shapes, each written once: the people a page *names* (`users_by_id`, bounded by the ids
on the page, former colleagues included so that history keeps its names) and the people a
form lets you *choose* (`user_choices`: active accounts only, because the domain refuses to
give work to a disabled account).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.auth.models import User

LIST_LIMIT = 500


def user_label(user: User) -> str:
    """How a person is offered in a select: the name with the address, or the address."""
    return f"{user.name} ({user.email})" if user.name else user.email


def active_users(session: Session) -> list[User]:
    """Every account that may be given work, by name then address (one statement)."""
    return list(
        session.scalars(
            sa.select(User).where(User.active.is_(True)).order_by(User.name, User.email)
        )
    )


def user_choices(session: Session) -> list[tuple[int, str]]:
    """(id, label) pairs of the active accounts, for assignee, owner and role selects."""
    return [(user.id, user_label(user)) for user in active_users(session)]


def users_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, User]:
    """The accounts with these ids, disabled ones included: one statement, none when the
    page names nobody."""
    wanted = {user_id for user_id in ids if user_id is not None}
    if not wanted:
        return {}
    return {user.id: user for user in session.scalars(sa.select(User).where(User.id.in_(wanted)))}


def list_users(session: Session, *, limit: int = LIST_LIMIT) -> list[User]:
    """The accounts page: active ones first, then by address; at most `limit`."""
    return list(
        session.scalars(sa.select(User).order_by(User.active.desc(), User.email).limit(limit))
    )
