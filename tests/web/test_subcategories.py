"""The subcategory select shows which category each subcategory belongs to, with and without
JavaScript, and the pair is checked on the server."""

from __future__ import annotations

import re
from typing import Any

from statuspage.incidents.config import create_category


def test_subcategories_are_grouped_under_their_category(
    client: Any, session: Any, make_user: Any, login: Any, make_incident: Any, now: Any
) -> None:
    network = create_category(session, "Network", actor_id=None, now=now)
    create_category(session, "DNS", parent_id=network.id, actor_id=None, now=now)
    storage = create_category(session, "Storage", actor_id=None, now=now)
    create_category(session, "Disks", parent_id=storage.id, actor_id=None, now=now)
    incident = make_incident("Slow pages")
    session.commit()
    login(make_user("manager"))
    html = client.get(f"/admin/incidents/{incident.id}").get_data(as_text=True)
    select = re.search(r'<select[^>]*name="[^"]*subcategory"[^>]*>(.*?)</select>', html, re.S)
    assert select, "no subcategory select"
    groups = re.findall(r'<optgroup label="([^"]*)">(.*?)</optgroup>', select.group(1), re.S)
    labelled = {label: re.findall(r">([^<]+)</option>", body) for label, body in groups}
    assert labelled["Network"] == ["DNS"] and labelled["Storage"] == ["Disks"]
    assert 'src="/static/js/subcategories.js"' in html
    script = client.get("/static/js/subcategories.js")
    assert script.status_code == 200 and b"optgroup" in script.data
    script.close()
