"""A site with two audiences, shared by the audience tests (web, leak scan, browser).

- Enterprise customers: every address at enterprise.example may sign in; a private component
  "Enterprise cluster"; an update and a whole incident addressed to it.
- Acme Corp: ops@acme.example may sign in; nothing addressed to it.

Every private text carries a marker string that no public channel may ever contain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from statuspage.audiences import manage
from statuspage.components.manage import ComponentFields, create_component
from statuspage.incidents.operations import NewIncident, open_incident
from statuspage.incidents.publishing import post_update

# Markers: private text of each kind. None may appear anywhere public.
PRIVATE_COMPONENT = "Zq7PrivateClusterMarker"
PRIVATE_UPDATE = "Zq7AudienceUpdateMarker"
PRIVATE_INCIDENT_TITLE = "Zq7AudienceIncidentMarker"
PRIVATE_INCIDENT_UPDATE = "Zq7AudienceIncidentUpdateMarker"
AUDIENCE_NAME = "Enterprise customers"
MARKERS = (
    PRIVATE_COMPONENT,
    PRIVATE_UPDATE,
    PRIVATE_INCIDENT_TITLE,
    PRIVATE_INCIDENT_UPDATE,
    AUDIENCE_NAME,
)
PUBLIC_UPDATE = "We are looking into slow API responses."
MEMBER = "cto@enterprise.example"
OTHER_MEMBER = "ops@acme.example"


@dataclass
class AudienceSite:
    enterprise_id: int
    acme_id: int
    public_component_id: int
    private_component_id: int
    incident_id: int  # public, with a public and an audience-only update
    private_incident_id: int  # not public: shown to Enterprise only
    private_update_id: int


def build_site(session: Any, now: datetime, *, publish_private: bool = True) -> AudienceSite:
    enterprise = manage.create_audience(
        session,
        manage.AudienceFields(name=AUDIENCE_NAME, allowed_domains=["enterprise.example"]),
        actor_id=None,
        now=now,
    )
    acme = manage.create_audience(
        session,
        manage.AudienceFields(name="Acme Corp", allowed_emails=[OTHER_MEMBER]),
        actor_id=None,
        now=now,
    )
    public_component = create_component(
        session, ComponentFields(name="Public API"), actor_id=None, now=now - timedelta(days=2)
    )
    private_component = create_component(
        session,
        ComponentFields(
            name=PRIVATE_COMPONENT, is_public=False, audience_ids=[enterprise.id], showcase=True
        ),
        actor_id=None,
        now=now - timedelta(days=2),
    )
    started = now - timedelta(minutes=40)
    incident = open_incident(
        session,
        NewIncident(
            title="Slow API",
            impact_started_at=started,
            component_ids=[public_component.id, private_component.id],
        ),
        actor_id=None,
        now=started,
    )
    post_update(
        session,
        incident,
        status="investigating",
        body=PUBLIC_UPDATE,
        component_statuses={public_component.id: "degraded_performance"},
        actor_id=None,
        now=started + timedelta(minutes=1),
    )
    private_update_id = 0
    private_incident_id = 0
    if publish_private:
        private_update = post_update(
            session,
            incident,
            status="identified",
            body=f"{PRIVATE_UPDATE}: your dedicated cluster is failing over.",
            component_statuses={private_component.id: "major_outage"},
            audience_ids=[enterprise.id],
            actor_id=None,
            now=started + timedelta(minutes=2),
        )
        private_update_id = private_update.id
        private_incident = open_incident(
            session,
            NewIncident(
                title=PRIVATE_INCIDENT_TITLE,
                impact_started_at=started,
                component_ids=[private_component.id],
            ),
            actor_id=None,
            now=started,
        )
        post_update(
            session,
            private_incident,
            status="investigating",
            body=f"{PRIVATE_INCIDENT_UPDATE}: a maintenance of your cluster ran long.",
            component_statuses={private_component.id: "partial_outage"},
            audience_ids=[enterprise.id],
            actor_id=None,
            now=started + timedelta(minutes=3),
        )
        private_incident_id = private_incident.id
    session.commit()
    return AudienceSite(
        enterprise_id=enterprise.id,
        acme_id=acme.id,
        public_component_id=public_component.id,
        private_component_id=private_component.id,
        incident_id=incident.id,
        private_incident_id=private_incident_id,
        private_update_id=private_update_id,
    )


def mails(directory: Path) -> list[EmailMessage]:
    if not directory.exists():
        return []
    return [
        message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for path in sorted(directory.glob("*.eml"))
    ]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def whole_text(message: EmailMessage) -> str:
    """Subject, headers and every part, for scanning."""
    parts = [str(message)]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(str(part.get_content()))
    return "\n".join(parts)


def sign_in_link(directory: Path, address: str) -> str:
    """The path of the newest sign-in link emailed to `address`."""
    for message in reversed(mails(directory)):
        if address in str(message["To"]) and "sign-in link" in str(message["Subject"]):
            found = re.search(r"https?://[^\s]+(/sign-in/[A-Za-z0-9_\-]+)", text_of(message))
            assert found is not None
            return found.group(1)
    raise AssertionError(f"no sign-in link for {address}")
