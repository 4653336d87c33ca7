"""The audience rules without a database: who sees which component, update and incident,
and which IP addresses fall in an audience's ranges."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from statuspage.audiences import access, visibility
from statuspage.audiences.manage import split_entries

NOW = datetime(2026, 12, 4, tzinfo=UTC)
ENTERPRISE = SimpleNamespace(id=1, name="Enterprise")
ACME = SimpleNamespace(id=2, name="Acme")


def component(*, public: bool, audiences=(), archived: bool = False) -> SimpleNamespace:
    return SimpleNamespace(
        is_public=public, audiences=list(audiences), archived_at=NOW if archived else None
    )


def update(*, audiences=(), published: bool = True) -> SimpleNamespace:
    return SimpleNamespace(audiences=list(audiences), published_at=NOW if published else None)


def test_components() -> None:
    public = component(public=True)
    private = component(public=False, audiences=[ENTERPRISE])
    hidden = component(public=False)
    assert visibility.component_visible_to(public, [])
    assert not visibility.component_visible_to(private, [])
    assert not visibility.component_visible_to(private, [ACME.id])
    assert visibility.component_visible_to(private, [ENTERPRISE.id])
    assert not visibility.component_visible_to(hidden, [ENTERPRISE.id, ACME.id])
    assert not visibility.component_visible_to(component(public=True, archived=True), [1])


def test_updates() -> None:
    assert visibility.update_visible_to(update(), [])
    assert visibility.update_visible_to(update(), [ACME.id])  # public: every audience
    private = update(audiences=[ENTERPRISE])
    assert not visibility.update_visible_to(private, [])
    assert not visibility.update_visible_to(private, [ACME.id])
    assert visibility.update_visible_to(private, [ENTERPRISE.id, ACME.id])
    assert not visibility.update_visible_to(update(published=False), [1, 2])  # a draft
    assert visibility.visible_updates([update(), private], []) == [update()]


def test_incidents() -> None:
    public = SimpleNamespace(is_public=True, audiences=[])
    shown = SimpleNamespace(is_public=False, audiences=[ENTERPRISE])
    assert visibility.incident_visible_to(public, [])
    assert not visibility.incident_visible_to(shown, [])
    assert not visibility.incident_visible_to(shown, [ACME.id])
    assert visibility.incident_visible_to(shown, [ENTERPRISE.id])


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("203.0.113.7", [1]),
        ("203.0.114.1", []),
        ("2001:db8::5", [2]),
        ("::ffff:203.0.113.8", [1]),  # an IPv4 client seen through an IPv6 socket
        ("10.9.9.9", [1, 2]),
        ("not an address", []),
        ("", []),
        (None, []),
    ],
)
def test_ip_ranges(ip: str | None, expected: list[int]) -> None:
    networks = [
        (ipaddress.ip_network("203.0.113.0/24"), 1),
        (ipaddress.ip_network("2001:db8::/32"), 2),
        (ipaddress.ip_network("10.0.0.0/8"), 1),
        (ipaddress.ip_network("10.9.0.0/16"), 2),
    ]
    assert access.match_networks(networks, ip) == expected


def test_networks_and_entries_parse_leniently() -> None:
    assert str(access.parse_network(" 203.0.113.9/24 ")) == "203.0.113.0/24"
    assert str(access.parse_network("198.51.100.4")) == "198.51.100.4/32"
    with pytest.raises(ValueError):
        access.parse_network("example.com")
    assert split_entries("a@x.example, b@x.example\n\n c@x.example ") == [
        "a@x.example",
        "b@x.example",
        "c@x.example",
    ]
    assert access.email_domain("Ann@Example.COM") == "example.com"
