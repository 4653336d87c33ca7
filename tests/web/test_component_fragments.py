"""The front page's component blocks are kept per content and language
(statuspage/public/fragments.py): a kept block is reused only while the component shows the
same thing, in the same language, to a reader with the same audience words."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from statuspage.components.manage import ComponentFields, edit_component
from statuspage.components.models import ComponentStatus
from statuspage.components.status import change_component_status
from statuspage.core.db import utcnow
from statuspage.public import fragments
from tests.web.audience_site import (
    AUDIENCE_NAME,
    MEMBER,
    OTHER_MEMBER,
    PRIVATE_COMPONENT,
    AudienceSite,
    build_site,
    sign_in_link,
)


def kept(app: Flask) -> fragments._Kept:
    with app.app_context():
        return fragments._kept()


def block_of(page: str, name: str) -> str:
    """The block of the component whose name starts with `name`."""
    head = f'<div class="component"><div class="component-head"><h3 class="component-name">{name}'
    start = page.index(head)
    summary = page.find('<p class="uptime-summary">', start)
    return page[start : page.index("</p></div>", summary) + len("</p></div>")]


def test_unchanged_components_are_drawn_once(
    app: Flask, client: FlaskClient, session: Any, make_component: Any
) -> None:
    for name in ("REST API", "Webhooks", "Website"):
        make_component(name, group="Services")
    session.commit()
    blocks = kept(app).blocks
    blocks.clear()

    first = client.get("/").get_data(as_text=True)
    assert len(blocks) == 3
    drawn = dict(blocks)
    second = client.get("/").get_data(as_text=True)
    # Same blocks, the very same objects: nothing was drawn again.
    assert len(blocks) == 3
    assert all(blocks[key] is block for key, block in drawn.items())
    assert block_of(first, "Webhooks") == block_of(second, "Webhooks")


def test_a_changed_component_gets_a_new_block_and_the_others_stay(
    app: Flask, client: FlaskClient, session: Any, make_component: Any
) -> None:
    api = make_component("REST API", group="Services")
    make_component("Webhooks", group="Services")
    session.commit()
    blocks = kept(app).blocks
    blocks.clear()
    before = client.get("/").get_data(as_text=True)
    assert "Partial outage" not in block_of(before, "REST API")
    webhooks_before = block_of(before, "Webhooks")

    change_component_status(session, api, ComponentStatus.PARTIAL_OUTAGE, now=utcnow())
    session.commit()
    after = client.get("/").get_data(as_text=True)
    assert "Partial outage" in block_of(after, "REST API")
    assert block_of(after, "Webhooks") == webhooks_before
    assert len(blocks) == 3  # one more: the changed one

    edit_component(
        session,
        api.id,
        ComponentFields(name="Public REST API", description="Orders and payments"),
        actor_id=None,
        now=utcnow(),
    )
    session.commit()
    renamed = client.get("/").get_data(as_text=True)
    block = block_of(renamed, "Public REST API")
    assert "Orders and payments" in block and "Partial outage" in block
    assert 'aria-label="Public REST API: daily uptime' in block
    assert "REST API: daily uptime" not in renamed.replace("Public REST API", "")


def test_each_language_gets_its_own_blocks(
    app: Flask, client: FlaskClient, session: Any, make_component: Any
) -> None:
    make_component("REST API")
    session.commit()
    english = block_of(client.get("/?lang=en").get_data(as_text=True), "REST API")
    german = block_of(client.get("/?lang=de").get_data(as_text=True), "REST API")
    again = block_of(client.get("/?lang=en").get_data(as_text=True), "REST API")
    assert "Operational" in english and "days ago" in english
    assert "Betriebsbereit" in german and "days ago" not in german
    assert again == english


def test_hidden_components_are_never_drawn(
    client: FlaskClient, session: Any, make_component: Any
) -> None:
    make_component("Status emails", only_show_if_degraded=True)
    make_component("REST API")
    session.commit()
    page = client.get("/").get_data(as_text=True)
    assert "Status emails" not in page and "REST API" in page


@pytest.fixture
def mail_dir(app: Flask, tmp_path: Path, immediate_huey: Any) -> Path:
    directory = tmp_path / "mail"
    app.config.update(MAIL_TRANSPORT="file", MAIL_FILE_DIR=str(directory))
    return directory


def signed_in(app: Flask, mail_dir: Path, address: str) -> FlaskClient:
    reader = app.test_client()
    assert reader.post("/sign-in", data={"email": address}).status_code == 200
    assert reader.post(sign_in_link(mail_dir, address)).status_code == 303
    return reader


def test_audience_words_belong_to_the_reader_who_sees_them(
    app: Flask, client: FlaskClient, session: Any, mail_dir: Path, now: datetime
) -> None:
    site: AudienceSite = build_site(session, now)
    # The private component is addressed to both audiences: each member's block names only
    # their own, and the public never gets either.
    edit_component(
        session,
        site.private_component_id,
        ComponentFields(audience_ids=[site.enterprise_id, site.acme_id]),
        actor_id=None,
        now=utcnow(),
    )
    session.commit()

    enterprise = block_of(
        signed_in(app, mail_dir, MEMBER).get("/").get_data(as_text=True), PRIVATE_COMPONENT
    )
    acme = block_of(
        signed_in(app, mail_dir, OTHER_MEMBER).get("/").get_data(as_text=True), PRIVATE_COMPONENT
    )
    public = client.get("/").get_data(as_text=True)
    assert f"Visible to {AUDIENCE_NAME} only" in enterprise and "Acme" not in enterprise
    assert "Visible to Acme Corp only" in acme and AUDIENCE_NAME not in acme
    assert PRIVATE_COMPONENT not in public and "Visible to" not in public


def test_kept_blocks_are_bounded_least_recently_used_out_first() -> None:
    from markupsafe import Markup

    kept_blocks = fragments._Kept(2)
    kept_blocks.put(("a",), Markup("A"))
    kept_blocks.put(("b",), Markup("B"))
    assert kept_blocks.get(("a",)) == "A"  # now the most recently used
    kept_blocks.put(("c",), Markup("C"))
    assert kept_blocks.get(("b",)) is None
    assert kept_blocks.get(("a",)) == "A" and kept_blocks.get(("c",)) == "C"
    assert len(kept_blocks.blocks) == 2
