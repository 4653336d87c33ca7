"""Login sessions kept in the database, so that logging out really ends them."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.auth.models import User, UserSession
from statuspage.auth.passwords import verify_password

# Compared against when the email is unknown, so a wrong email costs as much time as a wrong
# password and the answer does not tell which accounts exist.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$jn0nswa0pSZZ3qASDJLatA$"
    "eg1WJM25FH3SKQPkBgI4NMU3Ofj0UaZTp1biG742A+8"
)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password) or not user.active:
        return None
    return user


def start_session(session: Session, user: User, *, now: datetime) -> str:
    """Record a new login and return the token to keep in the (signed) cookie."""
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(user_id=user.id, token_hash=_digest(token), created_at=now, last_seen_at=now)
    )
    user.last_login_at = now
    session.flush()
    return token


def session_is_live(session: Session, user_id: int, token: str | None) -> bool:
    if not token:
        return False
    return (
        session.scalar(
            sa.select(UserSession.id).where(
                UserSession.user_id == user_id,
                UserSession.token_hash == _digest(token),
                UserSession.revoked_at.is_(None),
            )
        )
        is not None
    )


def end_session(session: Session, token: str | None, *, now: datetime) -> None:
    if not token:
        return
    session.execute(
        sa.update(UserSession)
        .where(UserSession.token_hash == _digest(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def end_all_sessions(session: Session, user_id: int, *, now: datetime) -> None:
    session.execute(
        sa.update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
