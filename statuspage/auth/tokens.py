"""API tokens: created for a user, shown once, stored as a SHA-256, revocable.

A token acts as its user and is limited by that user's role; it stops working when revoked or
when the user is disabled.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.auth.models import ApiToken, User
from statuspage.core.errors import DomainError, NotFound
from statuspage.core.records import record_audit
from statuspage.core.text import single_line
from statuspage.core.translation import N_

# A fixed prefix makes a leaked token easy to recognise in logs and secret scanners.
TOKEN_PREFIX = "sp_"  # noqa: S105 - a public prefix, not a secret
NAME_MAX = 120
# How exactly "last used" is kept: the token list shows it to the minute.
LAST_USED_PRECISION = timedelta(minutes=1)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    session: Session, user: User, name: str, *, actor_id: int | None, now: datetime
) -> tuple[ApiToken, str]:
    """Create a token; return the row and the secret, which is never stored or shown again."""
    name = single_line(name)
    if not name:
        raise DomainError(N_("Name the token after what will use it."), field="name")
    if len(name) > NAME_MAX:
        raise DomainError(N_("Keep the name under %(max)s characters."), max=NAME_MAX, field="name")
    if not user.active:
        raise DomainError(N_("A disabled account cannot get tokens."), field="user")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id, name=name, prefix=secret[:10], token_hash=_digest(secret), created_at=now
    )
    session.add(token)
    session.flush()
    record_audit(
        session,
        "api_token",
        token.id,
        "create",
        {"user_id": user.id, "name": name},
        actor_id=actor_id,
        now=now,
    )
    return token, secret


def user_for_token(session: Session, secret: str, *, now: datetime) -> User | None:
    """The active user a live token belongs to, or None. Records when it was last used, to
    the minute (`LAST_USED_PRECISION`): a token used again within it writes nothing, so a
    stream of API calls (a publish every second) does not add an UPDATE to each."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    row = session.execute(
        sa.select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _digest(secret), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    token, user = row
    if not user.active:
        return None
    last = token.last_used_at  # aware UTC (UTCDateTime)
    if last is None or abs(now - last) >= LAST_USED_PRECISION:
        token.last_used_at = now
    return user


def revoke_token(
    session: Session,
    token_id: int,
    *,
    actor_id: int | None,
    now: datetime,
    owner_id: int | None = None,
) -> ApiToken:
    """Revoke a token; with `owner_id`, only that user's own token."""
    token = session.get(ApiToken, token_id)
    if token is None or (owner_id is not None and token.user_id != owner_id):
        raise NotFound(N_("There is no such token."))
    if token.revoked_at is None:
        token.revoked_at = now
        record_audit(
            session,
            "api_token",
            token.id,
            "revoke",
            {"user_id": token.user_id},
            actor_id=actor_id,
            now=now,
        )
    session.flush()
    return token


def tokens_of(session: Session, user_id: int) -> list[ApiToken]:
    return list(
        session.scalars(
            sa.select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
        )
    )
