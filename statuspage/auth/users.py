"""Domain operations on accounts. They flush, never commit."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.auth.models import Role, User
from statuspage.auth.passwords import MIN_PASSWORD_LENGTH, hash_password

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class UserError(ValueError):
    """An account cannot be created or changed as asked; the message says why."""


def create_user(session: Session, *, email: str, password: str, role: Role, name: str = "") -> User:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise UserError(f"{email!r} is not an email address.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    if session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise UserError("An account with that email address exists already.")
    user = User(email=email, name=name, password_hash=hash_password(password), role=Role(role))
    session.add(user)
    session.flush()
    return user
