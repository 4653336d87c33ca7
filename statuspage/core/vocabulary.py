"""The status vocabulary readers see, as message ids for the catalogs.

The API's values (`operational`, `major_outage`, `investigating`...) never change with the
language; what a reader sees does. These maps give each value its English words, marked with
`N_()` so `pybabel extract` finds them; pages and emails translate them where they are shown
(statuspage/templating.py's filters, the email environment's `translate` filter).
Domain modules keep their own English labels (COMPONENT_STATUS_LABELS, INDICATOR_DESCRIPTIONS
...) for logs, CLI and the API; the same English words are the msgids here, so a label
translated by `gettext(label)` finds its translation too.
"""

from __future__ import annotations

from statuspage.core.translation import N_

COMPONENT_STATUS = {
    "operational": N_("Operational"),
    "degraded_performance": N_("Degraded performance"),
    "partial_outage": N_("Partial outage"),
    "major_outage": N_("Major outage"),
    "under_maintenance": N_("Under maintenance"),
}

INDICATOR = {
    "none": N_("All Systems Operational"),
    "maintenance": N_("Service Under Maintenance"),
    "minor": N_("Minor Service Outage"),
    "major": N_("Partial System Outage"),
    "critical": N_("Major System Outage"),
}

PUBLIC_STATUS = {
    "investigating": N_("Investigating"),
    "identified": N_("Identified"),
    "monitoring": N_("Monitoring"),
    "resolved": N_("Resolved"),
}

MAINTENANCE_STATUS = {
    "scheduled": N_("Scheduled"),
    "in_progress": N_("In progress"),
    "verifying": N_("Verifying"),
    "completed": N_("Completed"),
}

IMPACT = {
    "none": N_("No impact"),
    "minor": N_("Minor impact"),
    "major": N_("Major impact"),
    "critical": N_("Critical impact"),
}

# Headings of a published post-incident review (statuspage/incidents/queries.REVIEW_SECTIONS).
REVIEW_SECTIONS = (
    N_("Summary"),
    N_("Impact"),
    N_("Leadup"),
    N_("Trigger"),
    N_("Detection"),
    N_("Response"),
    N_("Recovery"),
    N_("Contributing factors and root causes"),
    N_("What went well"),
    N_("What went badly"),
    N_("Where we got lucky"),
    N_("Our communication during the incident"),
)

# Error pages: the name of each status the public site answers with, and our own words for
# it (werkzeug's default descriptions are long and English-only).
ERROR_NAMES = {
    400: N_("Bad Request"),
    403: N_("Forbidden"),
    404: N_("Not Found"),
    405: N_("Method Not Allowed"),
    409: N_("Conflict"),
    410: N_("Gone"),
    413: N_("Request Entity Too Large"),
    415: N_("Unsupported Media Type"),
    429: N_("Too Many Requests"),
    500: N_("Internal Server Error"),
    503: N_("Service Unavailable"),
}
ERROR_DESCRIPTIONS = {
    400: N_("The request could not be understood."),
    403: N_("You do not have permission to see this page."),
    404: N_("There is no page at this address."),
    405: N_("This address does not accept that kind of request."),
    409: N_("The request conflicts with a change made in the meantime."),
    410: N_("This page is gone."),
    413: N_("What was sent is too large."),
    415: N_("What was sent is not in a format this address accepts."),
    429: N_("Too many requests. Please wait a moment and try again."),
    500: N_("Something went wrong on our side. Please try again shortly."),
    503: N_("The status page cannot answer right now. Please try again shortly."),
}


def label(vocabulary: dict[str, str], value: object) -> str:
    """The English words for `value` (an enum or its string), else the value made readable."""
    key = str(getattr(value, "value", value))
    return vocabulary.get(key) or key.replace("_", " ").capitalize()
