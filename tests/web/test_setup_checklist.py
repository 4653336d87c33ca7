"""A new installation shows staff what is left to set up, and warns that SLA breaches alert
nobody until escalation contacts are named."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from statuspage.incidents.models import SlaPolicy


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_a_new_installation_shows_the_checklist_until_done(client, session, make_user, login):
    login(make_user("admin"))
    page = text(client.get("/admin/incidents"))
    assert "Set up your page" in page
    for label in (
        "Add your components",
        "Name and brand your page",
        "Set the sender address of emails",
        "Name who is told of an SLA breach",
        "Turn on two-factor for your account",
    ):
        assert label in page
    assert "SLA breaches alert nobody</strong> for P1, P2, P3, P4" in page
    assert "SLA breaches alert nobody" in text(client.get("/admin/dashboard"))
    # The public page is honest, never an error.
    public = client.get("/")
    assert public.status_code == 200 and "No components are listed yet." in text(public)

    response = client.post(
        "/admin/components",
        data={"component-name": "Shop", "component-group": "", "component-is_public": "y"},
    )
    assert response.status_code == 302
    page = text(client.get("/admin/incidents"))
    assert 'To do:</span> <a href="/admin/components">' not in page
    assert 'Done:</span> <a href="/admin/components">Add your components' in page

    for policy in session.scalars(sa.select(SlaPolicy)):
        policy.escalation_contacts = ["oncall@example.com"]
    session.commit()
    assert "SLA breaches alert nobody" not in text(client.get("/admin/dashboard"))


def test_the_checklist_goes_away_when_everything_is_set(app, client, session, make_user, login):
    from statuspage.branding import settings as branding
    from statuspage.components import manage
    from statuspage.core.db import utcnow

    login(make_user("manager"))
    manage.create_component(
        session, manage.ComponentFields(name="API"), actor_id=None, now=utcnow()
    )
    branding.update_page(session, branding.PageFields(name="Acme"), actor_id=None, now=utcnow())
    for policy in session.scalars(sa.select(SlaPolicy)):
        policy.escalation_contacts = ["oncall@example.com"]
    session.commit()
    app.config["MAIL_FROM"] = "status@acme.test"
    assert "Set up your page" not in text(client.get("/admin/incidents"))
