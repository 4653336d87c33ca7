"""The leak scan: private components, updates and incidents are published with marker
strings, members read every page first (so a member's render would be there to leak), then
every public channel is read as the public and scanned: pages, error pages, feeds, the v2
JSON, badges, the calendar, ETag'd and conditional answers, the static snapshot, and the
emails public subscribers get. Zero hits, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from statuspage.core.db import utcnow
from statuspage.notifications.models import Subscriber
from statuspage.snapshot import export_snapshot
from tests.web.audience_site import (
    MARKERS,
    MEMBER,
    PRIVATE_COMPONENT,
    AudienceSite,
    build_site,
    mails,
    sign_in_link,
    whole_text,
)

PUBLIC_SUBSCRIBER = "reader@public.example"


@pytest.fixture
def mail_dir(app: Flask, tmp_path: Path, immediate_huey: Any) -> Path:
    directory = tmp_path / "mail"
    app.config.update(MAIL_TRANSPORT="file", MAIL_FILE_DIR=str(directory))
    return directory


def public_paths(app: Flask, site: AudienceSite) -> list[str]:
    """Every GET address of the public site and the v2 JSON, with each id filled in with a
    public and a private record (a private one must 404 without saying why)."""
    values: dict[str, list[str]] = {
        "incident_id": [str(site.incident_id), str(site.private_incident_id)],
        "component_id": [str(site.public_component_id), str(site.private_component_id)],
        "maintenance_id": ["1"],
        "token": ["not-a-token"],
    }
    paths: list[str] = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in ("public", "api_v2"):
            continue
        if "GET" not in (rule.methods or ()):
            continue
        choices: list[dict[str, str]] = [{}]
        for argument in rule.arguments:
            if argument not in values:
                choices = []
                break
            choices = [{**c, argument: v} for c in choices for v in values[argument]]
        for args in choices:
            path = rule.rule
            for name, value in args.items():
                path = path.replace(f"<int:{name}>", value).replace(f"<{name}>", value)
            paths.append(path)
    paths += [f"/history?component={site.private_component_id}", "/history?page=2"]
    return sorted(set(paths))


def scan(text: str, where: str) -> None:
    found = [marker for marker in MARKERS if marker in text]
    assert not found, f"{where} shows {found}"


def test_no_public_channel_shows_anything_private(
    app: Flask, client: FlaskClient, mail_dir: Path, session: Any, tmp_path: Path
) -> None:
    now = utcnow()
    session.add(
        Subscriber(
            email=PUBLIC_SUBSCRIBER, all_components=True, confirmed_at=now - timedelta(days=1)
        )
    )
    session.commit()
    site = build_site(session, now)

    # A member reads everything first: had their pages gone into the shared cache, the
    # public would get them below.
    client.post("/sign-in", data={"email": MEMBER})
    assert client.post(sign_in_link(mail_dir, MEMBER)).status_code == 303
    paths = public_paths(app, site)
    assert len(paths) > 20
    member_saw = ""
    for path in paths:
        member_saw += client.get(path).get_data(as_text=True)
    assert PRIVATE_COMPONENT in member_saw  # the scan below could find something

    public = app.test_client()
    etags: dict[str, str] = {}
    for path in paths:
        for attempt in ("first", "cached"):
            response = public.get(path)
            scan(response.get_data(as_text=True), f"{path} ({attempt})")
            scan(str(response.headers), f"{path} headers")
            assert response.status_code < 500, path
            if response.headers.get("ETag"):
                etags[path] = response.headers["ETag"]
    for path, etag in etags.items():
        again = public.get(path, headers={"If-None-Match": etag})
        assert again.status_code in (200, 304), path
        scan(again.get_data(as_text=True), f"{path} (conditional)")
    # The overall status is the public one: the private outage does not count.
    status = public.get("/api/v2/status.json").get_json()
    assert status["status"]["indicator"] == "minor"

    # The static snapshot.
    with app.app_context():
        export_snapshot(app, directory=tmp_path / "snapshot", force=True)
    files = [p for p in (tmp_path / "snapshot").rglob("*") if p.is_file()]
    assert files
    for path in files:
        scan(path.read_bytes().decode("utf-8", "replace"), f"snapshot {path.name}")

    # Emails to public subscribers.
    from statuspage.worker.delivery import run_delivery

    with app.app_context():
        run_delivery()
    to_public = [m for m in mails(mail_dir) if PUBLIC_SUBSCRIBER in str(m["To"])]
    assert to_public  # the public update reached them
    for message in to_public:
        scan(whole_text(message), f"email {message['Subject']}")
    to_member = [m for m in mails(mail_dir) if str(m["To"]) == MEMBER]
    assert to_member  # at least the sign-in link
