"""Two-factor authentication (TOTP) for staff accounts: enrolment, login codes, disabling and an
admin's reset. Domain operations: they flush, never commit, and audit every change of state
(entity "user"). Neither the secret nor a code ever goes into an audit row or a log line.

Each code works once: accepting one stores its time step in `user.totp_last_step` with a
conditional UPDATE (only if the stored step is older), so two requests racing with the same
code cannot both win, on SQLite or PostgreSQL.

`secret_keys` is `[SECRET_KEY, *SECRET_KEY_FALLBACKS]`: the first encrypts, all may decrypt
(see `statuspage.auth.totp`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.auth import totp
from statuspage.auth.models import Role, User
from statuspage.auth.passwords import verify_password
from statuspage.core.errors import DomainError, NotFound
from statuspage.core.records import record_audit
from statuspage.core.translation import N_

logger = logging.getLogger(__name__)

SecretKeys = Sequence[str | bytes]

WRONG_CODE = N_("That code is not right, or it has been used already. Enter the current code.")


class TwoFactorError(DomainError):
    """A two-factor step refused; the message says why, `field` which input."""


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(N_("There is no user %(id)s."), id=user_id)
    return user


def is_required(user: User, *, require_for_admins: bool) -> bool:
    """Whether this account must have two-factor before using the admin area."""
    return require_for_admins and user.role == Role.ADMIN and not user.has_two_factor


def pending_secret(user: User, *, secret_keys: SecretKeys) -> str | None:
    """The secret of an enrolment under way, to show while it is set up; never once enabled."""
    if user.has_two_factor or not user.totp_secret:
        return None
    try:
        secret, _ = totp.decrypt_secret(user.totp_secret, secret_keys=secret_keys, user_id=user.id)
    except totp.SecretUnreadable:
        return None
    return secret


def start_enrolment(
    session: Session, user_id: int, *, secret_keys: SecretKeys, now: datetime
) -> str:
    """A new secret for the account, not yet in force: it takes effect once a code from it is
    confirmed (`confirm_enrolment`). Starting again replaces an unconfirmed secret."""
    user = _user(session, user_id)
    if user.has_two_factor:
        raise TwoFactorError(N_("Two-factor authentication is on already."))
    secret = totp.new_secret()
    user.totp_secret = totp.encrypt_secret(secret, secret_key=secret_keys[0], user_id=user.id)
    user.totp_last_step = None
    session.flush()
    logger.info("user %s started two-factor enrolment", user.id)
    return secret


def _accept(session: Session, user: User, step: int) -> bool:
    """Record `step` as used unless a step as late was accepted already (atomic)."""
    result = session.execute(
        sa.update(User)
        .where(
            User.id == user.id,
            sa.or_(User.totp_last_step.is_(None), User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    accepted = result.rowcount == 1
    session.refresh(user)
    return accepted


def _check_code(
    session: Session, user: User, code: str, *, secret_keys: SecretKeys, now: datetime
) -> bool:
    """Whether `code` is a current, unused code of the user's secret; accepting uses it up."""
    if not user.totp_secret:
        return False
    try:
        secret, current_key = totp.decrypt_secret(
            user.totp_secret, secret_keys=secret_keys, user_id=user.id
        )
    except totp.SecretUnreadable:
        logger.warning("user %s: no configured key opens the two-factor secret", user.id)
        return False
    step = totp.matching_step(secret, code, now=now, after_step=user.totp_last_step)
    if step is None or not _accept(session, user, step):
        return False
    if not current_key:
        # Opened with a fallback key while SECRET_KEY is rotated: move it to the new key.
        user.totp_secret = totp.encrypt_secret(secret, secret_key=secret_keys[0], user_id=user.id)
        session.flush()
    return True


def confirm_enrolment(
    session: Session, user_id: int, code: str, *, secret_keys: SecretKeys, now: datetime
) -> User:
    """Turn two-factor on once the person proves their app holds the secret."""
    user = _user(session, user_id)
    if user.has_two_factor:
        raise TwoFactorError(N_("Two-factor authentication is on already."))
    if not user.totp_secret:
        raise TwoFactorError(N_("Start the set-up first."))
    if not _check_code(session, user, code, secret_keys=secret_keys, now=now):
        raise TwoFactorError(WRONG_CODE, field="code")
    user.totp_enabled_at = now
    record_audit(
        session,
        "user",
        user.id,
        "enable_two_factor",
        {"two_factor": [False, True]},
        actor_id=user.id,
        now=now,
    )
    session.flush()
    logger.info("user %s enabled two-factor", user.id)
    return user


def verify_login(
    session: Session, user_id: int, code: str, *, secret_keys: SecretKeys, now: datetime
) -> bool:
    """The second step of a login: True if `code` is right and unused (and now used)."""
    user = session.get(User, user_id)
    if user is None or not user.active or not user.has_two_factor:
        return False
    accepted = _check_code(session, user, code, secret_keys=secret_keys, now=now)
    if not accepted:
        logger.info("user %s: wrong two-factor code at login", user.id)
    return accepted


def _clear(user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None


def disable_two_factor(
    session: Session,
    user_id: int,
    *,
    password: str,
    code: str,
    secret_keys: SecretKeys,
    now: datetime,
) -> User:
    """The person turns two-factor off: their password and a current code, both."""
    user = _user(session, user_id)
    if not user.has_two_factor:
        raise TwoFactorError(N_("Two-factor authentication is off already."))
    if not verify_password(user.password_hash, password):
        raise TwoFactorError(N_("That is not your password."), field="password")
    if not _check_code(session, user, code, secret_keys=secret_keys, now=now):
        raise TwoFactorError(WRONG_CODE, field="code")
    _clear(user)
    record_audit(
        session,
        "user",
        user.id,
        "disable_two_factor",
        {"two_factor": [True, False]},
        actor_id=user.id,
        now=now,
    )
    session.flush()
    logger.info("user %s disabled two-factor", user.id)
    return user


def cancel_enrolment(session: Session, user_id: int) -> User:
    """Forget a secret that was never confirmed (nothing was in force: no audit row)."""
    user = _user(session, user_id)
    if not user.has_two_factor:
        _clear(user)
        session.flush()
    return user


def reset_two_factor(
    session: Session, user_id: int, *, actor_id: int | None, now: datetime
) -> User:
    """An admin turns someone's two-factor off (a lost phone); they may enrol again."""
    user = _user(session, user_id)
    was_on = user.has_two_factor
    if not was_on and not user.totp_secret:
        return user
    _clear(user)
    record_audit(
        session,
        "user",
        user.id,
        "reset_two_factor",
        {"two_factor": [was_on, False]},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    logger.info("user %s two-factor reset by user %s", user.id, actor_id)
    return user
