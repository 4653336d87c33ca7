"""Domain operations on accounts. They flush, never commit.

Every change writes an audit row (entity "user"); passwords never appear in one. Disabling an
account or resetting its password ends all of its sessions at once: the cookie a browser
still holds stops working on its next request.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.auth.models import Role, User
from statuspage.auth.password_rules import MAX_PASSWORD_LENGTH, broken_rule
from statuspage.auth.passwords import hash_password
from statuspage.auth.sessions import end_all_sessions
from statuspage.core.errors import DomainError, NotFound
from statuspage.core.records import record_audit
from statuspage.core.text import single_line
from statuspage.core.translation import N_

logger = logging.getLogger(__name__)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EMAIL_MAX = 254
NAME_MAX = 120
PASSWORD_MAX = MAX_PASSWORD_LENGTH
TIME_ZONE_MAX = 64


class UserError(DomainError):
    """An account cannot be created or changed as asked; the message says why."""


def _check_password(password: str) -> None:
    """Every way of setting a password comes through here (auth/password_rules.py)."""
    broken = broken_rule(password)
    if broken is not None:
        message, params = broken
        raise UserError(message, field="password", **params)


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise UserError(N_("There is no role %(role)r."), role=role, field="role") from None


def create_user(session: Session, *, email: str, password: str, role: Role, name: str = "") -> User:
    email = email.strip().lower()
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        raise UserError(N_("%(email)r is not an email address."), email=email, field="email")
    _check_password(password)
    name = single_line(name)
    if len(name) > NAME_MAX:
        raise UserError(
            N_("The name must be at most %(max)s characters."), max=NAME_MAX, field="name"
        )
    role = _role(role)
    if session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise UserError(N_("An account with that email address exists already."), field="email")
    user = User(email=email, name=name, password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    return user


def add_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: Role | str,
    name: str = "",
    actor_id: int | None,
    now: datetime,
) -> User:
    """`create_user`, done by someone: stamped with `now` and audited."""
    user = create_user(session, email=email, password=password, role=_role(role), name=name)
    user.created_at = now
    record_audit(
        session,
        "user",
        user.id,
        "create",
        {"email": user.email, "name": user.name, "role": user.role, "active": True},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    logger.info("user %s created (%s) by user %s", user.id, user.role.value, actor_id)
    return user


def _user_or_404(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(N_("There is no user %(id)s."), id=user_id)
    return user


def _keep_an_admin(
    session: Session, user: User, *, actor_id: int | None, field: str | None
) -> None:
    """Refuse to take away the last active admin: nobody could manage accounts any more."""
    if user.role != Role.ADMIN or not user.active:
        return
    # FOR UPDATE (PostgreSQL): two admins demoting each other at the same moment are
    # serialized, so the second one counts what the first one left.
    others = session.scalars(
        sa.select(User.id)
        .where(User.role == Role.ADMIN, User.active.is_(True), User.id != user.id)
        .with_for_update()
    ).all()
    if not others:
        message = (
            N_("You are the last active admin: make another account an admin first.")
            if user.id == actor_id
            else N_("This is the last active admin: make another account an admin first.")
        )
        raise UserError(message, field=field)


def change_role(
    session: Session, user_id: int, role: Role | str, *, actor_id: int | None, now: datetime
) -> User:
    user = _user_or_404(session, user_id)
    role = _role(role)
    if role == user.role:
        return user
    if role != Role.ADMIN:
        _keep_an_admin(session, user, actor_id=actor_id, field="role")
    old = user.role
    user.role = role
    record_audit(
        session, "user", user.id, "change_role", {"role": [old, role]}, actor_id=actor_id, now=now
    )
    session.flush()
    logger.info("user %s role %s -> %s by user %s", user.id, old.value, role.value, actor_id)
    return user


def disable_user(session: Session, user_id: int, *, actor_id: int | None, now: datetime) -> User:
    """Disable the account and end every session it has, at once."""
    user = _user_or_404(session, user_id)
    if not user.active:
        return user
    _keep_an_admin(session, user, actor_id=actor_id, field=None)
    user.active = False
    end_all_sessions(session, user.id, now=now)
    record_audit(
        session, "user", user.id, "disable", {"active": [True, False]}, actor_id=actor_id, now=now
    )
    session.flush()
    logger.info("user %s disabled by user %s; sessions ended", user.id, actor_id)
    return user


def enable_user(session: Session, user_id: int, *, actor_id: int | None, now: datetime) -> User:
    user = _user_or_404(session, user_id)
    if user.active:
        return user
    user.active = True
    record_audit(
        session, "user", user.id, "enable", {"active": [False, True]}, actor_id=actor_id, now=now
    )
    session.flush()
    logger.info("user %s enabled by user %s", user.id, actor_id)
    return user


def reset_password(
    session: Session, user_id: int, password: str, *, actor_id: int | None, now: datetime
) -> User:
    """Set a new password and end every session of the account (whoever held the old one is
    out)."""
    user = _user_or_404(session, user_id)
    _check_password(password)
    user.password_hash = hash_password(password)
    end_all_sessions(session, user.id, now=now)
    record_audit(
        session,
        "user",
        user.id,
        "reset_password",
        {"password": "reset"},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    logger.info("user %s password reset by user %s; sessions ended", user.id, actor_id)
    return user


def valid_time_zone(name: str) -> str:
    """`name` stripped, if it is an IANA zone this system knows ("" stays ""); else a UserError."""
    text = (name or "").strip()
    if not text:
        return ""
    try:
        if len(text) > TIME_ZONE_MAX:
            raise ValueError(text)
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(
            N_("Give a time zone name such as Europe/Berlin or America/New_York."),
            field="time_zone",
        ) from None
    return text


def set_time_zone(
    session: Session, user_id: int, time_zone: str, *, actor_id: int | None, now: datetime
) -> User:
    """The zone the account enters times in on staff forms; "" follows the page's zone."""
    user = _user_or_404(session, user_id)
    zone = valid_time_zone(time_zone)
    if zone == user.time_zone:
        return user
    old = user.time_zone
    user.time_zone = zone
    record_audit(
        session,
        "user",
        user.id,
        "set_time_zone",
        {"time_zone": [old, zone]},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    logger.info("user %s time zone %r -> %r by user %s", user.id, old, zone, actor_id)
    return user
