"""Setting up audiences (staff), their feed tokens, and readers' sign-in links.

Plain functions over the session: they validate, write the audit row, flush, never commit.
Secrets (feed tokens, sign-in links) are made with `secrets`, given back once, and stored only
as their SHA-256.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.audiences.access import audiences_for_email, parse_network
from statuspage.audiences.models import (
    Audience,
    AudienceFeedToken,
    ReaderSignInToken,
    incident_update_audience,
)
from statuspage.core.errors import DomainError, NotFound
from statuspage.core.records import record_audit
from statuspage.core.text import single_line
from statuspage.core.translation import N_

logger = logging.getLogger(__name__)

SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?")
DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
EMAIL = re.compile(r"[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@" + DOMAIN.pattern)
MAX_ENTRIES = 500


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class AudienceFields:
    """What a staff form (or the CLI) sets on an audience."""

    name: str
    slug: str = ""
    description: str = ""
    allowed_emails: Sequence[str] = field(default_factory=tuple)
    allowed_domains: Sequence[str] = field(default_factory=tuple)
    ip_ranges: Sequence[str] = field(default_factory=tuple)
    oidc_group: str | None = None


def split_entries(text: str | None) -> list[str]:
    """One entry per line or comma, trimmed, blank ones left out."""
    return [part.strip() for part in re.split(r"[\s,]+", text or "") if part.strip()]


def _checked_list(
    values: Iterable[str], pattern: re.Pattern[str], refusal: str, name: str
) -> list[str]:
    """The entries, lower case and without repeats; `refusal` (a msgid with `%(value)r`)
    names one that does not match `pattern`."""
    found: list[str] = []
    for value in values:
        entry = value.strip().lower().lstrip("@")
        if not pattern.fullmatch(entry):
            raise DomainError(refusal, value=entry, field=name)
        if entry not in found:
            found.append(entry)
    if len(found) > MAX_ENTRIES:
        raise DomainError(N_("At most %(max)s entries."), max=MAX_ENTRIES, field=name)
    return found


def _checked(
    session: Session, fields: AudienceFields, audience_id: int | None
) -> dict[str, object]:
    name = single_line(fields.name)
    if not name or len(name) > 120:
        raise DomainError(N_("Give the audience a name (at most 120 characters)."), field="name")
    slug = (fields.slug or "").strip().lower() or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip(
        "-"
    )[:60].strip("-")
    if not SLUG.fullmatch(slug):
        raise DomainError(
            N_("The short name takes lower-case letters, digits and dashes."), field="slug"
        )
    clash = session.scalar(sa.select(Audience.id).where(Audience.slug == slug))
    if clash is not None and clash != audience_id:
        raise DomainError(N_("Another audience has this short name."), field="slug")
    ranges: list[str] = []
    for value in fields.ip_ranges:
        try:
            network = str(parse_network(value))
        except ValueError:
            raise DomainError(
                N_("%(value)r is not an IP network (for example 203.0.113.0/24)."),
                value=value.strip(),
                field="ip_ranges",
            ) from None
        if network not in ranges:
            ranges.append(network)
    group = single_line(fields.oidc_group or "") or None
    if group is not None and len(group) > 200:
        raise DomainError(N_("At most %(max)s characters."), max=200, field="oidc_group")
    return {
        "name": name,
        "slug": slug,
        "description": (fields.description or "").strip(),
        "allowed_emails": _checked_list(
            fields.allowed_emails, EMAIL, N_("%(value)r is not an email address."), "allowed_emails"
        ),
        "allowed_domains": _checked_list(
            fields.allowed_domains,
            DOMAIN,
            N_("%(value)r is not an email domain."),
            "allowed_domains",
        ),
        "ip_ranges": ranges,
        "oidc_group": group,
    }


def create_audience(
    session: Session, fields: AudienceFields, *, actor_id: int | None, now: datetime
) -> Audience:
    values = _checked(session, fields, None)
    audience = Audience(created_at=now, **values)
    session.add(audience)
    session.flush()
    record_audit(session, "audience", audience.id, "create", values, actor_id=actor_id, now=now)
    logger.info("Audience %s created by user %s", audience.id, actor_id)
    return audience


def get_audience(session: Session, audience_id: int) -> Audience:
    audience = session.get(Audience, audience_id)
    if audience is None:
        raise NotFound(N_("There is no audience %(id)s."), id=audience_id)
    return audience


def update_audience(
    session: Session,
    audience_id: int,
    fields: AudienceFields,
    *,
    actor_id: int | None,
    now: datetime,
) -> Audience:
    audience = get_audience(session, audience_id)
    values = _checked(session, fields, audience.id)
    changes = {
        key: [getattr(audience, key), value]
        for key, value in values.items()
        if getattr(audience, key) != value
    }
    for key, value in values.items():
        setattr(audience, key, value)
    if changes:
        record_audit(
            session, "audience", audience.id, "update", changes, actor_id=actor_id, now=now
        )
    session.flush()
    return audience


def delete_audience(
    session: Session, audience_id: int, *, actor_id: int | None, now: datetime
) -> None:
    """Delete the audience; its private components and incidents are then shown to no one.

    Refused while an update is addressed to it: an update addressed to nobody is public, so
    deleting its last audience would publish it.
    """
    audience = get_audience(session, audience_id)
    if audience_in_use(session, audience.id):
        raise DomainError(
            N_(
                "Updates are addressed to %(audience)s; deleting it would make them public. "
                "Keep the audience (remove its members to close it)."
            ),
            audience=audience.name,
        )
    record_audit(
        session,
        "audience",
        audience.id,
        "delete",
        {"name": audience.name},
        actor_id=actor_id,
        now=now,
    )
    session.delete(audience)
    session.flush()
    logger.info("Audience %s deleted by user %s", audience_id, actor_id)


def audience_in_use(session: Session, audience_id: int) -> bool:
    """Whether an update is addressed to this audience."""
    return (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(incident_update_audience)
            .where(incident_update_audience.c.audience_id == audience_id)
        )
        or 0
    ) > 0


def list_audiences(session: Session) -> list[Audience]:
    return list(session.scalars(sa.select(Audience).order_by(Audience.name, Audience.id)))


# --- feed tokens -----------------------------------------------------------------------------


def create_feed_token(
    session: Session, audience_id: int, *, label: str, actor_id: int | None, now: datetime
) -> tuple[AudienceFeedToken, str]:
    """A new token for the audience's feeds and JSON; the secret is returned once."""
    audience = get_audience(session, audience_id)
    secret = secrets.token_urlsafe(32)
    token = AudienceFeedToken(
        audience_id=audience.id,
        label=single_line(label)[:120],
        token_hash=token_hash(secret),
        created_at=now,
    )
    session.add(token)
    session.flush()
    record_audit(
        session,
        "audience_feed_token",
        token.id,
        "create",
        {"audience_id": audience.id, "label": token.label},
        actor_id=actor_id,
        now=now,
    )
    return token, secret


def revoke_feed_token(
    session: Session, audience_id: int, token_id: int, *, actor_id: int | None, now: datetime
) -> bool:
    token = session.get(AudienceFeedToken, token_id)
    if token is None or token.audience_id != audience_id:
        raise NotFound(f"Audience {audience_id} has no feed token {token_id}.")
    if token.revoked_at is not None:
        return False
    token.revoked_at = now
    record_audit(session, "audience_feed_token", token.id, "revoke", {}, actor_id=actor_id, now=now)
    session.flush()
    return True


def audience_for_feed_token(session: Session, secret: str) -> int | None:
    """The audience a live feed token reads as, or None."""
    if not secret or len(secret) > 200:
        return None
    return session.scalar(
        sa.select(AudienceFeedToken.audience_id).where(
            AudienceFeedToken.token_hash == token_hash(secret),
            AudienceFeedToken.revoked_at.is_(None),
        )
    )


# --- sign-in links ---------------------------------------------------------------------------


def issue_sign_in_token(session: Session, email: str, *, now: datetime, max_age: int) -> str | None:
    """A single-use sign-in secret for `email` when some audience allows it, else None
    (the caller says the same either way)."""
    address = (email or "").strip().lower()
    if not audiences_for_email(session, address):
        return None
    secret = secrets.token_urlsafe(32)
    session.add(
        ReaderSignInToken(
            token_hash=token_hash(secret),
            email=address,
            created_at=now,
            expires_at=now + timedelta(seconds=max_age),
        )
    )
    session.flush()
    return secret


def redeem_sign_in_token(session: Session, secret: str, *, now: datetime) -> str | None:
    """The address a live, unused sign-in secret was sent to, marking it used; None when
    it is unknown, used or expired. The update is conditional, so two clicks at once cannot
    both succeed."""
    if not secret or len(secret) > 200:
        return None
    digest = token_hash(secret)
    row = session.scalar(sa.select(ReaderSignInToken).where(ReaderSignInToken.token_hash == digest))
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    claimed = session.execute(
        sa.update(ReaderSignInToken)
        .where(ReaderSignInToken.id == row.id, ReaderSignInToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return None
    # Old links are of no use to anyone: drop the expired ones while we are here.
    session.execute(sa.delete(ReaderSignInToken).where(ReaderSignInToken.expires_at < now))
    return row.email
