from statuspage.components.models import ComponentStatus as C
from statuspage.components.status import Indicator, overall_status


def test_all_operational_is_none():
    result = overall_status([C.OPERATIONAL, C.OPERATIONAL], [])
    assert result.indicator == Indicator.NONE
    assert result.description == "All Systems Operational"


def test_no_components_and_no_incidents_is_none():
    assert overall_status([], []).indicator == Indicator.NONE


def test_each_component_status_maps_to_its_indicator():
    assert overall_status([C.DEGRADED_PERFORMANCE], []).indicator == Indicator.MINOR
    assert overall_status([C.PARTIAL_OUTAGE], []).indicator == Indicator.MAJOR
    assert overall_status([C.MAJOR_OUTAGE], []).indicator == Indicator.CRITICAL
    assert overall_status([C.UNDER_MAINTENANCE], []).indicator == Indicator.MAINTENANCE


def test_worst_component_wins():
    statuses = [C.OPERATIONAL, C.DEGRADED_PERFORMANCE, C.MAJOR_OUTAGE, C.PARTIAL_OUTAGE]
    assert overall_status(statuses, []).indicator == Indicator.CRITICAL


def test_maintenance_shows_only_when_nothing_is_broken():
    assert overall_status([C.UNDER_MAINTENANCE, C.OPERATIONAL], []).indicator == "maintenance"
    assert overall_status([C.UNDER_MAINTENANCE, C.DEGRADED_PERFORMANCE], []).indicator == "minor"


def test_unresolved_incident_impact_counts_even_with_operational_components():
    result = overall_status([C.OPERATIONAL], ["major"])
    assert result.indicator == Indicator.MAJOR
    assert result.description == "Partial System Outage"


def test_incident_without_impact_does_not_raise_the_indicator():
    assert overall_status([C.OPERATIONAL], ["none"]).indicator == Indicator.NONE


def test_incident_impact_and_components_combine_to_the_worst():
    assert overall_status([C.PARTIAL_OUTAGE], ["minor"]).indicator == Indicator.MAJOR
    assert overall_status([C.DEGRADED_PERFORMANCE], ["critical"]).indicator == Indicator.CRITICAL
    assert overall_status([C.UNDER_MAINTENANCE], ["minor"]).indicator == Indicator.MINOR
