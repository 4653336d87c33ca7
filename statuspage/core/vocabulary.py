"""The status vocabulary readers and staff see, as message ids for the catalogs.

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


# The staff area's vocabulary: each domain enum's values in words, by the enum's class name
# (`TERMS`, read by templating.term: `{{ incident.status|term }}`). The values themselves stay
# what the API, the CSV exports, logs and the CLI use.
INCIDENT_STATUS = {
    "new": N_("New"),
    "triage": N_("Triage"),
    "investigating": N_("Investigating"),
    "identified": N_("Identified"),
    "mitigated": N_("Mitigated"),
    "resolved": N_("Resolved"),
    "post_incident": N_("Post incident"),
    "closed": N_("Closed"),
    "cancelled": N_("Cancelled"),
}
LEVEL = {"high": N_("High"), "medium": N_("Medium"), "low": N_("Low")}
INCIDENT_SOURCE = {
    "staff": N_("Staff"),
    "customer": N_("Customer"),
    "monitoring": N_("Monitoring"),
    "api": N_("API"),
}
INCIDENT_ROLE = {
    "incident_manager": N_("Incident manager"),
    "tech_lead": N_("Tech lead"),
    "comms_lead": N_("Comms lead"),
    "first_line": N_("First line"),
    "second_line": N_("Second line"),
    "observer": N_("Observer"),
}
TASK_KIND = {"response": N_("Response"), "follow_up": N_("Follow-up")}
TASK_STATUS = {"open": N_("Open"), "done": N_("Done"), "cancelled": N_("Cancelled")}
SLA_STATE = {"ok": N_("OK"), "at_risk": N_("At risk"), "breached": N_("Breached")}
SLA_TARGET = {
    "acknowledge": N_("Acknowledge"),
    "mitigate": N_("Mitigate"),
    "resolve": N_("Resolve"),
    "update": N_("Update"),
}
RESOLUTION_CODE = {
    "fixed": N_("Fixed"),
    "workaround": N_("Workaround"),
    "rolled_back": N_("Rolled back"),
    "config_change": N_("Config change"),
    "third_party_fixed": N_("Third party fixed"),
    "no_fault_found": N_("No fault found"),
    "duplicate": N_("Duplicate"),
    "false_positive": N_("False positive"),
}
EVIDENCE_KIND = {"file": N_("File"), "link": N_("Link"), "log": N_("Log")}
PROBLEM_STATUS = {
    "open": N_("Open"),
    "known_error": N_("Known error"),
    "resolved": N_("Resolved"),
}
LINK_KIND = {"related": N_("Related"), "duplicate": N_("Duplicate")}
ALERT_STATUS = {"firing": N_("Firing"), "resolved": N_("Resolved")}
REVIEW_STATUS = {
    "draft": N_("Draft"),
    "in_review": N_("In review"),
    "approved": N_("Approved"),
    "published": N_("Published"),
}
ROLE = {
    "admin": N_("Admin"),
    "manager": N_("Manager"),
    "responder": N_("Responder"),
    "communicator": N_("Communicator"),
    "viewer": N_("Viewer"),
}
PERMISSION = {
    "view": N_("view"),
    "work_incidents": N_("work incidents"),
    "publish": N_("publish"),
    "draft_updates": N_("draft updates"),
    "configure": N_("configure"),
    "manage_users": N_("manage users"),
}
# Also the English of StakeholderEvent.label (what the email to a list says).
STAKEHOLDER_EVENT = {
    "declared": N_("Declared"),
    "priority_raised": N_("Priority raised"),
    "status_changed": N_("Status changed"),
    "sla_breached": N_("SLA breached"),
    "resolved": N_("Resolved"),
    "review_published": N_("Review published"),
    "manual": N_("Stakeholder update"),
}
SUBSCRIBER_STATE = {
    "active": N_("Active"),
    "unconfirmed": N_("Not confirmed yet"),
    "unsubscribed": N_("Unsubscribed"),
    "suppressed": N_("Suppressed"),
}
NOTIFICATION_KIND = {
    "incident_update": N_("Incident update"),
    "closure_report": N_("Closure report"),
    "review_published": N_("Post-incident review"),
    "maintenance_scheduled": N_("Maintenance scheduled"),
    "maintenance_reminder": N_("Maintenance reminder"),
    "maintenance_started": N_("Maintenance started"),
    "maintenance_completed": N_("Maintenance completed"),
    "stakeholder_summary": N_("Stakeholder summary (internal)"),
    "component_status": N_("Component status (webhook, chat, SMS)"),
}
NOTIFICATION_STATE = {
    "pending": N_("Queued"),
    "sending": N_("Sending"),
    "done": N_("Done"),
    "failed": N_("Failed"),
}
BATCH_STATE = {
    "pending": N_("Queued"),
    "sending": N_("Sending"),
    "sent": N_("Sent"),
    "failed": N_("Failed"),
}
CHANNEL_KIND = {
    "webhook": N_("Webhook"),
    "slack": N_("Slack"),
    "teams": N_("Microsoft Teams"),
    "discord": N_("Discord"),
    "sms": N_("SMS"),
}
CHANNEL_STATUS = {
    "pending": N_("Waiting for verification"),
    "active": N_("Active"),
    "disabled": N_("Disabled"),
    "unsubscribed": N_("Unsubscribed"),
}
CHANNEL_DELIVERY_STATE = {
    "pending": N_("Queued"),
    "delivered": N_("Delivered"),
    "failed": N_("Failed"),
    "gave_up": N_("Gave up"),
}

# Enum class name -> its words. Class names are unique across the domain packages (a test
# checks it); an enum not listed here is shown as its value made readable.
TERMS: dict[str, dict[str, str]] = {
    "ComponentStatus": COMPONENT_STATUS,
    "Indicator": INDICATOR,
    "PublicStatus": PUBLIC_STATUS,
    "MaintenanceStatus": MAINTENANCE_STATUS,
    "PublicImpact": IMPACT,
    "IncidentStatus": INCIDENT_STATUS,
    "Level": LEVEL,
    "IncidentSource": INCIDENT_SOURCE,
    "IncidentRole": INCIDENT_ROLE,
    "TaskKind": TASK_KIND,
    "TaskStatus": TASK_STATUS,
    "SlaState": SLA_STATE,
    "SlaTarget": SLA_TARGET,
    "ResolutionCode": RESOLUTION_CODE,
    "EvidenceKind": EVIDENCE_KIND,
    "ProblemStatus": PROBLEM_STATUS,
    "LinkKind": LINK_KIND,
    "AlertStatus": ALERT_STATUS,
    "ReviewStatus": REVIEW_STATUS,
    "Role": ROLE,
    "Permission": PERMISSION,
    "StakeholderEvent": STAKEHOLDER_EVENT,
    "SubscriberState": SUBSCRIBER_STATE,
    "NotificationKind": NOTIFICATION_KIND,
    "NotificationState": NOTIFICATION_STATE,
    "BatchState": BATCH_STATE,
    "ChannelKind": CHANNEL_KIND,
    "ChannelStatus": CHANNEL_STATUS,
    "ChannelDeliveryState": CHANNEL_DELIVERY_STATE,
}


def label(vocabulary: dict[str, str], value: object) -> str:
    """The English words for `value` (an enum or its string), else the value made readable."""
    key = str(getattr(value, "value", value))
    return vocabulary.get(key) or key.replace("_", " ").capitalize()


def term_of(member: object, kind: str | None = None) -> str:
    """The English words (a msgid) for an enum member, chosen by its class (`TERMS`): the
    same value means different things in different enums ("resolved" incident, problem,
    alert). `kind` names the class for a value kept as a plain string. An unlisted enum is
    its value made readable."""
    vocabulary = TERMS.get(kind or type(member).__name__, {})
    return label(vocabulary, member)
