"""Stakeholder rules without a database: what a priority change is, which events a list's rules
may name, and the defaults the migration installs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from statuspage.core.errors import DomainError
from statuspage.stakeholders.lists import DEFAULT_LISTS, PRIORITIES, _clean_email, parse_emails
from statuspage.stakeholders.models import RULE_EVENTS, StakeholderEvent
from statuspage.stakeholders.notify import priority_event

E = StakeholderEvent


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (None, "P1", E.DECLARED),
        (None, "P4", E.DECLARED),
        ("P2", "P1", E.PRIORITY_RAISED),
        ("P4", "P3", E.PRIORITY_RAISED),
        ("P1", "P2", None),  # lowered: nobody is told
        ("P1", "P1", None),
        ("P2", None, None),
    ],
)
def test_what_a_priority_change_is(before, after, expected):
    assert priority_event(before, after) == expected


def test_the_priorities_match_the_incident_model():
    from statuspage.incidents.models import Priority

    assert tuple(p.value for p in Priority) == PRIORITIES


def test_manual_updates_are_not_a_rule():
    assert E.MANUAL not in RULE_EVENTS
    assert set(RULE_EVENTS) | {E.MANUAL} == set(E)


def test_the_migration_installs_the_same_defaults():
    path = Path(__file__).parents[2] / "migrations" / "versions" / "0014_stakeholders.py"
    spec = importlib.util.spec_from_file_location("migration_0014", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert [
        (name, description, tuple(priorities), tuple(events))
        for name, description, priorities, events in module.DEFAULT_LISTS
    ] == [
        (name, description, priorities, tuple(event.value for event in events))
        for name, description, priorities, events in DEFAULT_LISTS
    ]
    leadership, support = DEFAULT_LISTS
    assert leadership[0] == "Leadership" and leadership[2] == ("P1",)
    assert E.DECLARED in leadership[3]
    assert support[0] == "Support" and support[2] == ("P1", "P2")
    assert E.DECLARED in support[3]


def test_member_addresses_are_checked_and_lower_cased():
    assert parse_emails("a@example.com, B@example.com\nc@example.com") == [
        "a@example.com",
        "B@example.com",
        "c@example.com",
    ]
    assert _clean_email(" B@Example.com ") == "b@example.com"
    for bad in ("nobody", "two words@example.com", "Name <a@example.com>"):
        with pytest.raises(DomainError) as refused:
            _clean_email(bad)
        assert refused.value.field == "emails"
