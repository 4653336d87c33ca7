"""Single sign-on for staff, Flask-free: what a verified OpenID Connect identity may do here.

The protocol (discovery, PKCE, state, nonce, the ID token's signature, issuer, audience and
expiry) is Authlib's, in `statuspage/oidc.py`. This module starts from the claims Authlib has
validated and decides:

- **Who**: the provider's issuer and subject, and the email claim, only when the provider
  says it is verified (`email_verified` true). An account is bound to the issuer and subject
  at its first single sign-on (`user.oidc_identity`) and found by them afterwards; an account
  not bound yet is found by its email address, as the password login does. An address that
  belongs to an account bound to someone else at the provider (a recycled address) is
  refused: the account never changes hands. `flask users unbind-sso EMAIL` lets an admin
  undo a binding (the person moved to a new provider account).
- **Which role**: `OIDC_STAFF_ROLES` maps provider groups to account roles, in the order
  written; the first pair whose group the person is in decides (list the most powerful
  first). Nobody in a mapped group: refused, and no account is made.
- **Account**: made on the first sign-in (with a random password nobody knows, so only single
  sign-on or an admin's password reset opens it), else brought up to date: the role follows
  the provider at every sign-in, except that the last active admin is never demoted (the same
  rule as the users page). A disabled account stays disabled.

Every change is audited (entity "user", actor the person or nobody), and each sign-in writes a
"sign_in" row with `via: oidc`. Functions flush, never commit.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.auth.models import Role, User
from statuspage.auth.users import EMAIL_MAX, NAME_MAX, UserError, add_user, change_role
from statuspage.core.errors import DomainError, NotFound
from statuspage.core.records import record_audit
from statuspage.core.text import single_line
from statuspage.core.translation import N_

logger = logging.getLogger(__name__)

GROUPS_MAX = 200  # a claim with more groups than this is cut (never a reason to fail)


class GroupRolesError(ValueError):
    """OIDC_STAFF_ROLES does not parse; the message says how it should read."""


IDENTITY_MAX = User.__table__.c.oidc_identity.type.length


class SignInRefused(DomainError):
    """The provider vouched for someone this site will not let in; the message says why."""


@dataclass(frozen=True)
class VerifiedIdentity:
    """What the provider vouched for, from a validated ID token."""

    subject: str
    email: str
    name: str
    groups: tuple[str, ...]
    issuer: str = ""

    @property
    def key(self) -> str:
        """How an account remembers this person: issuer and subject (`user.oidc_identity`)."""
        return f"{self.issuer} {self.subject}"


def parse_group_roles(value: object) -> tuple[tuple[str, Role], ...]:
    """ "sre-admins=admin,comms=communicator" (or a mapping) as ordered (group, role) pairs."""
    if isinstance(value, Mapping):
        items = [f"{group}={role}" for group, role in value.items()]
    elif isinstance(value, (list, tuple)):
        items = [
            f"{item[0]}={item[1]}" if isinstance(item, (list, tuple)) else str(item)
            for item in value
        ]
    elif isinstance(value, str):
        items = value.split(",")
    else:
        raise GroupRolesError(f"must read group=role,group=role, not {value!r}.")
    roles = ", ".join(role.value for role in Role)
    pairs: list[tuple[str, Role]] = []
    for item in items:
        if not item.strip():
            continue
        group, sep, role_name = item.partition("=")
        group, role_name = group.strip(), role_name.strip().lower()
        if not sep or not group:
            raise GroupRolesError(
                f"entry {item.strip()!r} must read group=role (for example sre-admins=admin)."
            )
        try:
            role = Role(role_name)
        except ValueError:
            raise GroupRolesError(
                f"entry {item.strip()!r} names no role; roles are {roles}."
            ) from None
        pairs.append((group, role))
    return tuple(pairs)


def _groups(value: Any) -> tuple[str, ...]:
    """The groups claim as a tuple of names: a list of strings, or one string."""
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, (list, tuple)):
        return tuple(item for item in value if isinstance(item, str) and item)[:GROUPS_MAX]
    return ()


def identity_from_claims(claims: Mapping[str, Any], *, groups_claim: str) -> VerifiedIdentity:
    """The identity in validated ID token claims; refused without a verified email."""
    email = claims.get("email")
    if not isinstance(email, str) or not email.strip():
        raise SignInRefused(
            N_("The provider did not tell us your email address: ask for the email scope.")
        )
    if claims.get("email_verified") is not True:
        raise SignInRefused(
            N_(
                "The provider has not verified your email address, so we cannot sign you in "
                "with it. Verify it with the provider, then try again."
            )
        )
    email = email.strip().lower()
    if len(email) > EMAIL_MAX:
        raise SignInRefused(N_("That email address is too long for an account here."))
    name = single_line(str(claims.get("name") or ""))[:NAME_MAX]
    subject, issuer = str(claims.get("sub") or ""), str(claims.get("iss") or "")
    if not subject or len(f"{issuer} {subject}") > IDENTITY_MAX:
        raise SignInRefused(
            N_("The provider's answer could not be verified, so you are not signed in.")
        )
    return VerifiedIdentity(
        issuer=issuer,
        subject=subject,
        email=email,
        name=name,
        groups=_groups(claims.get(groups_claim)),
    )


def role_for_groups(
    group_roles: Iterable[tuple[str, Role | str]], groups: Iterable[str]
) -> Role | None:
    """The role of the first (group, role) pair whose group is among `groups`; else None."""
    member_of = set(groups)
    for group, role in group_roles:
        if group in member_of:
            return Role(role)
    return None


def sign_in_staff(
    session: Session,
    identity: VerifiedIdentity,
    *,
    group_roles: Iterable[tuple[str, Role | str]],
    now: datetime,
) -> User:
    """The account `identity` signs in to, made or brought up to date; SignInRefused when its
    groups give no role or the account is disabled."""
    role = role_for_groups(group_roles, identity.groups)
    user = session.scalar(sa.select(User).where(User.oidc_identity == identity.key))
    if user is None:
        user = session.scalar(sa.select(User).where(User.email == identity.email))
        if user is not None and user.oidc_identity is not None:
            logger.warning(
                "single sign-on refused: user %s is bound to another identity at the provider",
                user.id,
            )
            raise SignInRefused(
                N_(
                    "This email address belongs to an account that signs in as someone else at "
                    "the provider. Ask an admin."
                )
            )
    if role is None:
        logger.info("single sign-on refused: no mapped group")
        raise SignInRefused(
            N_(
                "Your account at the provider is in no group that gives access to the staff "
                "area. Ask an admin to add you to one."
            )
        )
    if user is None:
        try:
            user = add_user(
                session,
                email=identity.email,
                # Nobody knows it: the account opens by single sign-on, or after an admin's reset.
                password=secrets.token_urlsafe(32),
                role=role,
                name=identity.name,
                actor_id=None,
                now=now,
            )
        except UserError as error:
            raise SignInRefused(error.msgid, **error.params) from None
    elif not user.active:
        logger.info("single sign-on refused: user %s is disabled", user.id)
        raise SignInRefused(N_("This account is disabled. Ask an admin to enable it."))
    elif user.role != role:
        try:
            change_role(session, user.id, role, actor_id=None, now=now)
        except UserError:
            # The last active admin keeps the role: nobody could manage accounts otherwise.
            logger.warning(
                "user %s keeps role admin: the provider's groups say %s, but it is the last "
                "active admin",
                user.id,
                role.value,
            )
    if not user.name and identity.name:
        user.name = identity.name
    if user.oidc_identity is None:
        user.oidc_identity = identity.key
        record_audit(
            session,
            "user",
            user.id,
            "bind_sso",
            {"oidc_identity": identity.key},
            actor_id=user.id,
            now=now,
        )
    record_audit(
        session,
        "user",
        user.id,
        "sign_in",
        {"via": "oidc", "role": user.role},
        actor_id=user.id,
        now=now,
    )
    session.flush()
    logger.info("user %s signed in by single sign-on as %s", user.id, user.role.value)
    return user


def unbind_identity(session: Session, email: str, *, actor_id: int | None, now: datetime) -> bool:
    """Forget the provider identity an account is bound to (its next single sign-on binds the
    identity that signs in with its address); False when it was not bound. NotFound when no
    account has the address."""
    user = session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(N_("There is no account with that email address."))
    if user.oidc_identity is None:
        return False
    record_audit(
        session,
        "user",
        user.id,
        "unbind_sso",
        {"oidc_identity": [user.oidc_identity, None]},
        actor_id=actor_id,
        now=now,
    )
    user.oidc_identity = None
    session.flush()
    return True
