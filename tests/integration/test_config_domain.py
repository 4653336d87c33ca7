"""Configuration managers edit (statuspage.incidents.config), on SQLite and PostgreSQL."""

import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa

from statuspage.core.errors import DomainError, NotFound
from statuspage.core.models import AuditEntry
from statuspage.incidents import config
from statuspage.incidents.casework import apply_template
from statuspage.incidents.models import (
    Category,
    Incident,
    IncidentTemplate,
    Level,
    Priority,
    PriorityRule,
    SlaPolicy,
    Task,
)
from statuspage.incidents.operations import NewIncident, categorize_incident, open_incident
from statuspage.incidents.priority import DEFAULT_MATRIX, priority_for
from statuspage.incidents.problems import ProblemText, create_problem

H, M, L = Level.HIGH, Level.MEDIUM, Level.LOW


def audits(session, entity_type, entity_id=None):
    query = sa.select(AuditEntry).where(AuditEntry.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    return list(session.scalars(query.order_by(AuditEntry.id)))


@pytest.fixture
def make_category(session, now):
    def make(name, parent=None):
        return config.create_category(
            session, name, parent_id=parent.id if parent else None, actor_id=None, now=now
        )

    return make


@pytest.fixture
def actor(make_user):
    return make_user("manager").id


@pytest.fixture
def incident(session, now):
    return open_incident(session, NewIncident(title="Broken"), actor_id=None, now=now)


# --- categories ---------------------------------------------------------------------------


def test_categories_and_subcategories_with_names_unique_per_parent(session, make_category):
    network = make_category("Network")
    storage = make_category("Storage")
    dns = make_category("DNS", network)
    # The same name under another parent is fine.
    other_dns = make_category("DNS", storage)
    assert dns.parent_id == network.id and other_dns.parent_id == storage.id
    with pytest.raises(DomainError) as error:
        make_category("dns", network)  # compared without case
    assert error.value.field == "name"
    with pytest.raises(DomainError) as error:
        make_category("  network ")  # top level: the database constraint cannot catch this
    assert error.value.field == "name"
    assert len(audits(session, "category")) == 4


def test_category_input_is_checked(session, make_category, now):
    network = make_category("Network")
    dns = make_category("DNS", network)
    with pytest.raises(DomainError) as error:
        make_category("Resolvers", dns)
    assert error.value.field == "parent"
    with pytest.raises(NotFound) as error:
        config.create_category(session, "X", parent_id=9999, actor_id=None, now=now)
    assert error.value.field == "parent"
    for bad in ("", "   ", "x" * 121):
        with pytest.raises(DomainError) as error:
            make_category(bad)
        assert error.value.field == "name"
    assert session.scalar(sa.select(sa.func.count()).select_from(Category)) == 2


def test_rename_keeps_names_unique(session, make_category, now, actor):
    network = make_category("Network")
    storage = make_category("Storage")
    with pytest.raises(DomainError) as error:
        config.rename_category(session, storage.id, "NETWORK", actor_id=None, now=now)
    assert error.value.field == "name"
    config.rename_category(session, network.id, "Networking", actor_id=actor, now=now)
    assert network.name == "Networking"
    entry = audits(session, "category", network.id)[-1]
    assert entry.action == "rename" and entry.changes == {"name": ["Network", "Networking"]}
    with pytest.raises(NotFound):
        config.rename_category(session, 9999, "Anything", actor_id=None, now=now)


def test_unused_category_is_deleted(session, make_category, now):
    network = make_category("Network")
    config.delete_category(session, network.id, actor_id=None, now=now)
    assert session.get(Category, network.id) is None
    assert audits(session, "category", network.id)[-1].action == "delete"


def test_used_category_needs_somewhere_to_move_its_incidents(
    session, make_category, incident, now, actor
):
    network = make_category("Network")
    storage = make_category("Storage")
    dns = make_category("DNS", network)
    categorize_incident(
        session,
        incident,
        category_id=network.id,
        subcategory_id=None,
        impact=H,
        urgency=H,
        actor_id=None,
        now=now,
    )
    template = config.create_template(
        session,
        config.TemplateFields(name="Outage", category_id=network.id),
        actor_id=None,
        now=now,
    )
    problem = create_problem(
        session, ProblemText(title="Flaky", category_id=network.id), actor_id=None, now=now
    )
    session.flush()
    # A category with subcategories: delete those first.
    with pytest.raises(DomainError, match="subcategories"):
        config.delete_category(session, network.id, reassign_to=storage.id, actor_id=None, now=now)
    config.delete_category(session, dns.id, actor_id=None, now=now)
    with pytest.raises(DomainError, match="1 incident, 1 template, 1 problem") as error:
        config.delete_category(session, network.id, actor_id=None, now=now)
    assert error.value.field == "reassign_to"
    version = incident.version
    usage = config.delete_category(
        session, network.id, reassign_to=storage.id, actor_id=actor, now=now + timedelta(minutes=1)
    )
    session.expire_all()
    assert usage.total == 3
    assert session.get(Category, network.id) is None
    assert session.get(Incident, incident.id).category_id == storage.id
    assert session.get(Incident, incident.id).version == version + 1  # open forms see a conflict
    assert session.get(IncidentTemplate, template.id).category_id == storage.id
    entry = audits(session, "incident", incident.id)[-1]
    assert entry.action == "recategorize"
    assert entry.changes == {"category_id": [network.id, storage.id], "version": version + 1}
    assert audits(session, "incident_template", template.id)[-1].action == "recategorize"
    assert audits(session, "problem", problem.id)[-1].action == "recategorize"


def test_subcategory_moves_only_to_a_sibling(session, make_category, incident, now):
    network = make_category("Network")
    storage = make_category("Storage")
    dns = make_category("DNS", network)
    cdn = make_category("CDN", network)
    disks = make_category("Disks", storage)
    categorize_incident(
        session,
        incident,
        category_id=network.id,
        subcategory_id=dns.id,
        impact=L,
        urgency=L,
        actor_id=None,
        now=now,
    )
    for target in (disks, network, dns):
        with pytest.raises(DomainError) as error:
            config.delete_category(session, dns.id, reassign_to=target.id, actor_id=None, now=now)
        assert error.value.field == "reassign_to"
    with pytest.raises(NotFound):
        config.delete_category(session, dns.id, reassign_to=9999, actor_id=None, now=now)
    config.delete_category(session, dns.id, reassign_to=cdn.id, actor_id=None, now=now)
    session.expire_all()
    moved = session.get(Incident, incident.id)
    assert (moved.category_id, moved.subcategory_id) == (network.id, cdn.id)


# --- priority matrix ----------------------------------------------------------------------


def full_matrix(**changes):
    cells = {key: value for key, value in DEFAULT_MATRIX.items()}
    for name, priority in changes.items():
        impact, urgency = name.split("_")
        cells[(Level(impact), Level(urgency))] = priority
    return cells


def test_matrix_edit_changes_the_computed_priority(session, incident, now, actor):
    assert priority_for(session, L, L) == Priority.P4
    config.set_priority_matrix(session, full_matrix(low_low="P2"), actor_id=actor, now=now)
    assert priority_for(session, L, L) == Priority.P2
    assert priority_for(session, H, H) == Priority.P1  # the other cells unchanged
    categorize_incident(
        session,
        incident,
        category_id=None,
        subcategory_id=None,
        impact=L,
        urgency=L,
        actor_id=None,
        now=now,
    )
    assert incident.priority == Priority.P2
    changed = audits(session, "priority_rule")
    assert len(changed) == 1  # one row per changed cell only
    assert changed[0].changes == {"impact": "low", "urgency": "low", "priority": ["P4", "P2"]}
    assert changed[0].actor_id == actor


def test_existing_priorities_are_kept_when_the_matrix_changes(session, incident, now):
    categorize_incident(
        session,
        incident,
        category_id=None,
        subcategory_id=None,
        impact=M,
        urgency=M,
        actor_id=None,
        now=now,
    )
    config.set_priority_matrix(session, full_matrix(medium_medium="P1"), actor_id=None, now=now)
    assert incident.priority == Priority.P3


def test_matrix_needs_all_nine_valid_cells(session, now):
    cells = full_matrix()
    del cells[(H, L)]
    with pytest.raises(DomainError) as error:
        config.set_priority_matrix(session, cells, actor_id=None, now=now)
    assert error.value.field == "high_low"
    with pytest.raises(DomainError) as error:
        config.set_priority_matrix(session, full_matrix(medium_low="P9"), actor_id=None, now=now)
    assert error.value.field == "medium_low"
    with pytest.raises(DomainError):
        config.set_priority_matrix(
            session, {**full_matrix(), ("severe", "high"): "P1"}, actor_id=None, now=now
        )
    assert config.priority_matrix(session) == DEFAULT_MATRIX
    assert session.scalar(sa.select(sa.func.count()).select_from(PriorityRule)) == 9


def test_matrix_cells_missing_from_the_table_are_recreated(session, now):
    session.execute(sa.delete(PriorityRule).where(PriorityRule.impact == H))
    config.set_priority_matrix(session, full_matrix(high_high="P2"), actor_id=None, now=now)
    assert session.scalar(sa.select(sa.func.count()).select_from(PriorityRule)) == 9
    assert priority_for(session, H, H) == Priority.P2


# --- SLA policies -------------------------------------------------------------------------


def targets(**overrides):
    values = {
        "name": "Critical",
        "acknowledge_minutes": 15,
        "mitigate_minutes": 60,
        "resolve_minutes": 240,
        "update_cadence_minutes": 30,
        "business_hours_only": False,
        "escalation_contacts": ["oncall@example.com"],
    }
    values.update(overrides)
    return config.SlaTargets(**values)


def test_sla_policy_is_edited_and_audited(session, now, actor):
    policy = config.update_sla_policy(
        session,
        "P1",
        targets(escalation_contacts=[" oncall@example.com ", "", "OnCall@example.com", "cto@x.io"]),
        actor_id=actor,
        now=now,
    )
    assert policy.acknowledge_minutes == 15 and policy.resolve_minutes == 240
    assert policy.escalation_contacts == ["oncall@example.com", "cto@x.io"]
    entry = audits(session, "sla_policy", policy.id)[-1]
    assert entry.changes["acknowledge_minutes"] == [60, 15]
    assert entry.changes["escalation_contacts"] == [[], ["oncall@example.com", "cto@x.io"]]


@pytest.mark.parametrize(
    "contacts",
    [["not-an-address"], ["a@b"], ["ops@example.com, dev@example.com"], ["x" * 250 + "@ex.com"]],
)
def test_sla_contacts_must_be_email_addresses(session, now, contacts):
    with pytest.raises(DomainError) as error:
        config.update_sla_policy(
            session, "P2", targets(escalation_contacts=contacts), actor_id=None, now=now
        )
    assert error.value.field == "escalation_contacts"


def test_sla_contacts_are_limited(session, now):
    many = [f"person{n}@example.com" for n in range(config.CONTACTS_MAX + 1)]
    with pytest.raises(DomainError, match="mailing list"):
        config.update_sla_policy(
            session, "P2", targets(escalation_contacts=many), actor_id=None, now=now
        )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"acknowledge_minutes": 0}, "acknowledge_minutes"),
        ({"mitigate_minutes": -5}, "mitigate_minutes"),
        ({"resolve_minutes": None}, "resolve_minutes"),
        ({"update_cadence_minutes": True}, "update_cadence_minutes"),
        ({"update_cadence_minutes": 1.5}, "update_cadence_minutes"),
        ({"resolve_minutes": 10**12}, "resolve_minutes"),
        ({"acknowledge_minutes": 90, "mitigate_minutes": 60}, "mitigate_minutes"),
        ({"mitigate_minutes": 300, "resolve_minutes": 240}, "resolve_minutes"),
        ({"name": " "}, "name"),
    ],
)
def test_sla_targets_are_positive_whole_minutes_in_order(session, now, overrides, field):
    with pytest.raises(DomainError) as error:
        config.update_sla_policy(session, "P3", targets(**overrides), actor_id=None, now=now)
    assert error.value.field == field
    policy = session.scalar(sa.select(SlaPolicy).where(SlaPolicy.priority == Priority.P3))
    assert policy.acknowledge_minutes == 1440  # nothing changed
    assert audits(session, "sla_policy") == []


def test_sla_policy_missing_for_a_priority_is_created(session, now):
    session.execute(sa.delete(SlaPolicy).where(SlaPolicy.priority == Priority.P4))
    policy = config.update_sla_policy(
        session, Priority.P4, targets(name="Low"), actor_id=None, now=now
    )
    assert policy.priority == Priority.P4 and policy.name == "Low"
    assert audits(session, "sla_policy", policy.id)[-1].action == "create"
    with pytest.raises(NotFound):
        config.update_sla_policy(session, "P7", targets(), actor_id=None, now=now)


# --- incident templates -------------------------------------------------------------------


def test_template_subcategory_must_belong_to_its_category(session, make_category, now):
    network = make_category("Network")
    storage = make_category("Storage")
    disks = make_category("Disks", storage)
    with pytest.raises(DomainError) as error:
        config.create_template(
            session,
            config.TemplateFields(name="T", category_id=network.id, subcategory_id=disks.id),
            actor_id=None,
            now=now,
        )
    assert error.value.field == "subcategory"
    with pytest.raises(DomainError) as error:
        config.create_template(
            session,
            config.TemplateFields(name="T", subcategory_id=disks.id),
            actor_id=None,
            now=now,
        )
    assert error.value.field == "category"
    with pytest.raises(DomainError) as error:
        config.create_template(
            session, config.TemplateFields(name="T", category_id=disks.id), actor_id=None, now=now
        )
    assert error.value.field == "category"
    with pytest.raises(NotFound):
        config.create_template(
            session, config.TemplateFields(name="T", category_id=9999), actor_id=None, now=now
        )
    assert session.scalar(sa.select(sa.func.count()).select_from(IncidentTemplate)) == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"impact": "high"}, "urgency"),
        ({"urgency": "low"}, "impact"),
        ({"impact": "extreme", "urgency": "low"}, "impact"),
        ({"title": "t" * 201}, "title"),
        ({"task_checklist": ["x" * 201]}, "task_checklist"),
        ({"task_checklist": [f"task {n}" for n in range(51)]}, "task_checklist"),
        ({"message_templates": {"scheduled": "Soon"}}, "message_templates"),
        ({"message_templates": {"resolved": "y" * 10_001}}, "message_resolved"),
    ],
)
def test_template_input_is_checked(session, now, fields, field):
    values = {"name": "Database outage", **fields}
    with pytest.raises(DomainError) as error:
        config.create_template(session, config.TemplateFields(**values), actor_id=None, now=now)
    assert error.value.field == field


def test_template_names_are_unique(session, now):
    first = config.create_template(
        session, config.TemplateFields(name="Database outage"), actor_id=None, now=now
    )
    with pytest.raises(DomainError) as error:
        config.create_template(
            session, config.TemplateFields(name="DATABASE OUTAGE"), actor_id=None, now=now
        )
    assert error.value.field == "name"
    second = config.create_template(
        session, config.TemplateFields(name="Login failures"), actor_id=None, now=now
    )
    with pytest.raises(DomainError):
        config.update_template(
            session,
            second.id,
            config.TemplateFields(name="database outage"),
            actor_id=None,
            now=now,
        )
    # Saving a template under its own name is not a clash.
    config.update_template(
        session,
        first.id,
        config.TemplateFields(name="Database outage", title="DB"),
        actor_id=None,
        now=now,
    )
    assert first.title == "DB"


def test_template_is_created_edited_applied_and_deleted(
    session, make_category, incident, now, actor
):
    network = make_category("Network")
    dns = make_category("DNS", network)
    template = config.create_template(
        session,
        config.TemplateFields(
            name="DNS outage",
            title="DNS resolution failing",
            description="Check the resolvers.",
            category_id=network.id,
            subcategory_id=dns.id,
            impact="high",
            urgency="medium",
            task_checklist=["  Page the network on-call ", "", "Check resolver health"],
            message_templates={
                "investigating": "We are looking into DNS errors.",
                "monitoring": " ",
            },
        ),
        actor_id=actor,
        now=now,
    )
    assert template.task_checklist == ["Page the network on-call", "Check resolver health"]
    assert template.message_templates == {"investigating": "We are looking into DNS errors."}
    assert audits(session, "incident_template", template.id)[0].action == "create"

    config.update_template(
        session,
        template.id,
        config.TemplateFields(
            name="DNS outage",
            title="DNS resolution failing",
            category_id=network.id,
            subcategory_id=dns.id,
            impact="high",
            urgency="high",
            task_checklist=["Page the network on-call"],
            message_templates={"resolved": "DNS works again."},
        ),
        actor_id=actor,
        now=now,
    )
    edit = audits(session, "incident_template", template.id)[-1]
    assert edit.action == "edit"
    # The edit's new version rides along (edit conflicts are told apart by it).
    assert set(edit.changes) == {
        "description",
        "urgency",
        "task_checklist",
        "message_templates",
        "version",
    }

    apply_template(session, incident, template.id, actor_id=None, now=now)
    assert incident.priority == Priority.P1
    assert incident.subcategory_id == dns.id
    tasks = session.scalars(sa.select(Task.title).where(Task.incident_id == incident.id)).all()
    assert tasks == ["Page the network on-call"]

    config.delete_template(session, template.id, actor_id=actor, now=now)
    session.expire_all()
    assert session.get(IncidentTemplate, template.id) is None
    assert session.get(Incident, incident.id).template_id is None
    assert audits(session, "incident_template", template.id)[-1].action == "delete"
    with pytest.raises(NotFound):
        config.delete_template(session, template.id, actor_id=actor, now=now)


def test_config_and_account_operations_import_no_flask():
    code = (
        "import sys, statuspage.incidents.config, statuspage.auth.users\n"
        "print(','.join(sorted(m for m in sys.modules if m == 'flask' or m.startswith('flask'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"Flask imported by the domain: {result.stdout}"
