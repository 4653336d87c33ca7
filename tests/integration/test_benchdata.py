"""The benchmark data set, and the promise it exists to check: pages cost what one page costs."""

import subprocess
import sys
from collections import defaultdict
from datetime import timedelta

import pytest
import sqlalchemy as sa

from statuspage.components.models import Component, ComponentGroup, ComponentStatus
from statuspage.components.models import ComponentStatusChange as Change
from statuspage.incidents.models import (
    Incident,
    IncidentComponent,
    IncidentStatus,
    IncidentUpdate,
    IncidentUpdateComponent,
    PublicStatus,
)
from statuspage.seed.bench import (
    COMPONENT_COUNT,
    GROUP_NAMES,
    RECENT_INCIDENTS,
    database_is_empty,
    seed_bench,
    window_start,
)
from statuspage.seed.bench import _check_no_overlap as check_no_overlap

PAGES = ("/", "/history", "/history?page=2")


def count(session, model):
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def recent_signature(session, now):
    """What the last 90 days hold, independent of ids."""
    rows = session.execute(
        sa.select(Incident.title, Incident.impact_started_at, Incident.public_impact)
        .where(Incident.impact_started_at >= window_start(now))
        .order_by(Incident.impact_started_at)
    ).all()
    changes = session.execute(
        sa.select(Change.component_id, Change.changed_at, Change.status)
        .where(Change.changed_at >= window_start(now))
        .order_by(Change.changed_at, Change.component_id)
    ).all()
    return [tuple(row) for row in rows], [tuple(row) for row in changes]


def wipe(session):
    for model in (
        IncidentUpdateComponent,
        Change,
        IncidentUpdate,
        IncidentComponent,
        Incident,
        Component,
        ComponentGroup,
    ):
        session.execute(sa.delete(model))
    session.commit()


def test_seed_bench_writes_closed_public_incidents(session, now):
    summary = seed_bench(session, incidents=60, now=now)
    session.commit()

    assert (summary.components, summary.incidents) == (COMPONENT_COUNT, 60)
    assert count(session, ComponentGroup) == 5
    assert count(session, Component) == 50
    assert count(session, Incident) == 60
    assert count(session, IncidentUpdate) == 3 * 60
    incidents = session.scalars(sa.select(Incident)).all()
    assert {(i.status, i.is_public, i.public_status) for i in incidents} == {
        (IncidentStatus.CLOSED, True, PublicStatus.RESOLVED)
    }
    assert all(1 <= len(i.affected) <= 2 for i in incidents)
    assert all(
        [u.status for u in reversed(i.public_updates)]
        == [PublicStatus.INVESTIGATING, PublicStatus.MONITORING, PublicStatus.RESOLVED]
        for i in incidents
    )
    assert all(
        i.impact_started_at < i.detected_at < i.published_at < i.public_resolved_at < now
        for i in incidents
    )

    # The last 90 days hold the same 30 incidents whatever the size, some of them recent.
    inside = [i for i in incidents if i.impact_started_at >= window_start(now)]
    assert len(inside) == RECENT_INCIDENTS
    assert sum(i.impact_started_at >= now - timedelta(days=14) for i in inside) >= 3
    older = [i for i in incidents if i.impact_started_at < window_start(now)]
    assert max(i.public_resolved_at for i in older) < window_start(now)

    # Every component starts with one row, then goes down and back up once per incident,
    # never overlapping: each row's old status is the previous row's status, in id order.
    links = count(session, IncidentComponent)
    assert count(session, Change) == 50 + 2 * links
    history = defaultdict(list)
    for change in session.scalars(sa.select(Change).order_by(Change.id)):
        history[change.component_id].append(change)
    for changes in history.values():
        assert changes[0].old_status is None and changes[0].incident_id is None
        for before, after in zip(changes, changes[1:], strict=False):
            assert after.old_status == before.status
            assert after.changed_at >= before.changed_at
            assert after.incident_id is not None
    assert set(session.scalars(sa.select(Component.status))) == {ComponentStatus.OPERATIONAL}


def test_pages_send_the_same_statements_for_a_longer_history(session, client, count_queries, now):
    counted, recent = {}, {}
    for size in (60, 300):
        if size != 60:
            wipe(session)
        seed_bench(session, incidents=size, now=now)
        session.commit()
        recent[size] = recent_signature(session, now)
        counted[size] = {}
        for page in PAGES:
            assert client.get(page).status_code == 200  # warm-up
            counted[size][page] = count_queries(lambda page=page: client.get(page))

    assert recent[60] == recent[300]
    assert counted[60] == counted[300]
    assert all(statements <= 15 for statements in counted[60].values())


def test_seed_bench_only_fills_an_empty_database(session, now, runner):
    assert database_is_empty(session)
    result = runner.invoke(args=["seed-bench", "--incidents", "40"])
    assert result.exit_code == 0, result.output
    assert "Benchmark data ready: 50 components, 40 incidents" in result.output
    assert count(session, Incident) == 40

    again = runner.invoke(args=["seed-bench", "--incidents", "40"])
    assert again.exit_code == 1
    assert "already has components or incidents" in again.output
    assert count(session, Incident) == 40


def test_benchdata_imports_no_flask():
    code = (
        "import sys, statuspage.seed.bench\n"
        "print(sorted(m for m in sys.modules if m == 'flask' or m.startswith('flask_')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_seed_bench_takes_the_number_of_components_per_group(session, client, runner):
    result = runner.invoke(args=["seed-bench", "--incidents", "40", "--components-per-group", "3"])
    assert result.exit_code == 0, result.output
    assert "Benchmark data ready: 15 components, 40 incidents" in result.output
    per_group = session.execute(
        sa.select(ComponentGroup.name, sa.func.count(Component.id))
        .join(Component, Component.group_id == ComponentGroup.id)
        .group_by(ComponentGroup.name)
    ).all()
    assert sorted(per_group) == sorted((name, 3) for name in GROUP_NAMES)
    # The incidents still go round every component, whatever their number.
    affected = set(session.scalars(sa.select(IncidentComponent.component_id)))
    assert affected == set(session.scalars(sa.select(Component.id)))

    page = client.get("/")
    assert page.status_code == 200
    names = session.scalars(sa.select(Component.name)).all()
    assert all(name in page.get_data(as_text=True) for name in names)
    assert "API service 3" in names and "API service 4" not in names


def test_seed_bench_refuses_components_too_few_for_the_incidents(session, now, runner):
    # Five components, one incident every few hours: the same component's incidents would
    # overlap, and its status history would no longer be one down-up after another.
    with pytest.raises(ValueError, match="5 components are too few for 10000 incidents"):
        seed_bench(session, incidents=10_000, now=now, components_per_group=1)
    assert database_is_empty(session)
    refused = runner.invoke(
        args=["seed-bench", "--incidents", "10000", "--components-per-group", "1"]
    )
    assert refused.exit_code == 1
    assert "too few for 10000 incidents" in refused.output
    assert database_is_empty(session)
    # What the benchmarks ask for passes: 100,000 incidents on 50 and on 200 components.
    for components in (50, 200):
        check_no_overlap(100_000, components)
