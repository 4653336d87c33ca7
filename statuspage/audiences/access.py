"""Which audiences a reader belongs to: by email address, by IP address, by OIDC groups.

Each answer is a sorted list of audience ids (empty: the public only). Audiences are few (a
handful per site), so the lists they hold (addresses, domains, networks) are read whole and
matched here rather than in SQL, the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.audiences.models import Audience

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def all_audience_ids(db_session: Session) -> list[int]:
    """Every audience's id (staff are members of all of them)."""
    return list(db_session.scalars(sa.select(Audience.id).order_by(Audience.id)))


def audiences_for_groups(db_session: Session, groups: list[str]) -> list[int]:
    """Audiences whose `oidc_group` is one of `groups` (compared exactly, as the provider
    sends them)."""
    wanted = {group for group in groups if isinstance(group, str) and group}
    if not wanted:
        return []
    return list(
        db_session.scalars(
            sa.select(Audience.id)
            .where(Audience.oidc_group.in_(sorted(wanted)))
            .order_by(Audience.id)
        )
    )


def email_domain(email: str) -> str:
    return email.rpartition("@")[2].strip().lower()


def audiences_for_email(db_session: Session, email: str | None) -> list[int]:
    """Audiences that list this address, or its domain (exactly: `example.com` does not let
    in `mail.example.com`)."""
    address = (email or "").strip().lower()
    if "@" not in address:
        return []
    domain = email_domain(address)
    found = []
    for audience_id, emails, domains in db_session.execute(
        sa.select(Audience.id, Audience.allowed_emails, Audience.allowed_domains).order_by(
            Audience.id
        )
    ):
        if address in (emails or []) or domain in (domains or []):
            found.append(audience_id)
    return found


def parse_network(value: str) -> Network:
    """A CIDR network (a bare address is a /32 or /128); ValueError when it is none."""
    return ipaddress.ip_network(value.strip(), strict=False)


def audience_networks(db_session: Session) -> list[tuple[Network, int]]:
    """(network, audience id) for every IP range of every audience; bad entries are skipped
    (the form refuses them, so only a hand-edited row could hold one)."""
    networks = []
    for audience_id, ranges in db_session.execute(sa.select(Audience.id, Audience.ip_ranges)):
        for value in ranges or []:
            try:
                networks.append((parse_network(value), audience_id))
            except ValueError:
                logger.warning("Audience %s: ignoring the bad IP range %r", audience_id, value)
    return networks


def match_networks(networks: Iterable[tuple[Network, int]], ip: str | None) -> list[int]:
    """The audience ids whose networks hold `ip`; none for a missing or malformed address."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return []
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return sorted(
        {
            audience_id
            for network, audience_id in networks
            if network.version == address.version and address in network
        }
    )


def audiences_for_ip(db_session: Session, ip: str) -> list[int]:
    """Audiences with an IP range holding `ip`."""
    return match_networks(audience_networks(db_session), ip)
