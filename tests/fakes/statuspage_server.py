"""A loopback HTTP server that serves a Statuspage page's public v2 API.

    with FakeStatuspage(statuspage_documents(now)) as source:
        read_page(source.url, ...)
        source.answer("/api/v2/incidents.json", status=500)          # from now on
        source.answer("/api/v2/summary.json", body=..., delay=2.0)   # a slow answer

The documents are shaped as Atlassian documents the v2 API (summary.json, incidents.json,
scheduled-maintenances.json): ids are 12-character strings, times ISO 8601 with an offset,
incident updates newest first, groups are components with `group: true` listing their members.
`statuspage_documents` builds a page with the odd cases an import has to survive: components
without a group, a group with a member missing, unknown status words, incidents without
updates, hostile text, and ids too long to be ids. Every request is recorded.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PAGE_ID = "y2j98763l56x"
HUGE_ID = "h" * 300  # no Statuspage id is this long: the record is skipped
BIG_NUMBER_ID = 10**30  # a JSON number as an id: kept, as text
SCRIPT = "<script>alert('x')</script>"
HOSTILE_BODY = (
    'We fixed it. <a href="javascript:alert(1)">Details</a> '
    "[more](javascript:alert(2)) <img src=x onerror=alert(3)> "
    "<script>document.cookie</script>Thanks &amp; sorry."
)


def iso(value: datetime) -> str:
    """Statuspage's style: milliseconds and an offset."""
    return value.isoformat(timespec="milliseconds")


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # dict/list as JSON, str or bytes as is
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    path: str
    host: str


class FakeStatuspage:
    def __init__(self, documents: dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._answers: dict[str, Answer] = {}
        self._requests: list[Received] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for path, body in (documents or {}).items():
            self.answer(path, body=body)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake Statuspage server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def answer(
        self,
        path: str,
        *,
        status: int = 200,
        body: Any = None,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer every later GET of `path` like this."""
        with self._lock:
            self._answers[path] = Answer(status, body, delay, dict(headers or {}))

    def start(self) -> FakeStatuspage:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-statuspage",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FakeStatuspage:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _lookup(self, path: str, host: str) -> Answer:
        with self._lock:
            self._requests.append(Received(path, host))
            return self._answers.get(path) or Answer(404, {"error": "Not found"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its timeout) leaves a broken pipe behind: not worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeStatuspage
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        answer = self.fake._lookup(self.path, self.headers.get("Host", ""))
        if answer.delay:
            self.fake._stopping.wait(answer.delay)
        body = answer.body
        if isinstance(body, (dict, list)):
            raw = json.dumps(body).encode()
            content_type = "application/json; charset=utf-8"
        elif isinstance(body, str):
            raw = body.encode()
            content_type = "text/plain; charset=utf-8"
        else:
            raw = body or b""
            content_type = "application/octet-stream"
        self.send_response(answer.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(ConnectionError):
            self.wfile.write(raw)


# --- the documents ----------------------------------------------------------------------------


def _page(now: datetime) -> dict[str, Any]:
    return {
        "id": PAGE_ID,
        "name": "Acme <b>Status</b>",
        "url": "https://status.acme.example",
        "time_zone": "Etc/UTC",
        "updated_at": iso(now),
    }


def _component(
    ident: Any,
    name: str,
    position: int,
    now: datetime,
    *,
    status: str = "operational",
    group_id: str | None = None,
    description: str | None = None,
    showcase: bool = True,
    only_show_if_degraded: bool = False,
    start_date: str | None = "2023-01-15",
) -> dict[str, Any]:
    return {
        "id": ident,
        "name": name,
        "status": status,
        "created_at": iso(now - timedelta(days=400)),
        "updated_at": iso(now - timedelta(days=1)),
        "position": position,
        "description": description,
        "showcase": showcase,
        "start_date": start_date,
        "group_id": group_id,
        "page_id": PAGE_ID,
        "group": False,
        "only_show_if_degraded": only_show_if_degraded,
    }


def _group(ident: str, name: str, position: int, members: list[str], now: datetime) -> dict:
    return {
        "id": ident,
        "name": name,
        "status": "operational",
        "created_at": iso(now - timedelta(days=400)),
        "updated_at": iso(now - timedelta(days=1)),
        "position": position,
        "description": None,
        "showcase": False,
        "start_date": None,
        "group_id": None,
        "page_id": PAGE_ID,
        "group": True,
        "only_show_if_degraded": False,
        "components": members,
    }


def components(now: datetime) -> list[dict[str, Any]]:
    """Two groups (one lists a member that is not on the page), components inside and outside
    them, an unknown status word, hostile text, a number id and an id far too long."""
    return [
        _group("grp0platform", "Platform", 1, ["cmp00000api1", "cmp0000web01"], now),
        _component(
            "cmp00000api1",
            "API",
            1,
            now,
            group_id="grp0platform",
            description="The REST API at api.acme.example.",
        ),
        _component(
            "cmp0000web01",
            "Website",
            2,
            now,
            group_id="grp0platform",
            description=f"Marketing site {SCRIPT}and docs",
            showcase=False,
        ),
        _component(
            "cmp00search1",
            "Search",
            3,
            now,
            status="degraded_performance",
            description=None,
        ),
        _component("cmp000dash01", "Dashboard", 4, now, only_show_if_degraded=True),
        _group("grp00regions", "Regions", 5, ["cmp000000eu1", "cmp0gone0000"], now),
        _component("cmp000000eu1", "EU region", 1, now, group_id="grp00regions"),
        _component(BIG_NUMBER_ID, f"<b>Billing</b>{SCRIPT}", 6, now, start_date=None),
        _component("cmp00legacy1", "Legacy", 7, now, status="kaputt"),
        _component(HUGE_ID, "Too long an id", 8, now),
    ]


def _update(
    ident: str,
    incident_id: str,
    status: str,
    body: str,
    at: datetime,
    affected: list[tuple[str, str, str, str]] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    return {
        "id": ident,
        "status": status,
        "body": body,
        "incident_id": incident_id,
        "created_at": iso(at),
        "updated_at": iso(at),
        "display_at": iso(at),
        "affected_components": [
            {"code": code, "name": name, "old_status": old, "new_status": new}
            for code, name, old, new in affected
        ]
        or None,
        "deliver_notifications": True,
        "custom_tweet": None,
        "tweet_id": None,
    }


def _incident(
    ident: str,
    name: str,
    status: str,
    impact: str,
    created: datetime,
    updates: list[dict[str, Any]],
    component_ids: list[str],
    *,
    resolved: datetime | None = None,
    monitoring: datetime | None = None,
) -> dict[str, Any]:
    return {
        "id": ident,
        "name": name,
        "status": status,
        "created_at": iso(created),
        "updated_at": iso(resolved or created),
        "monitoring_at": iso(monitoring) if monitoring else None,
        "resolved_at": iso(resolved) if resolved else None,
        "impact": impact,
        "shortlink": f"https://stspg.io/{ident[:6]}",
        "started_at": iso(created - timedelta(minutes=5)),
        "page_id": PAGE_ID,
        # Statuspage lists the updates newest first.
        "incident_updates": sorted(updates, key=lambda u: u["created_at"], reverse=True),
        "components": [_component(c, c, 1, created) for c in component_ids],
    }


def incidents(now: datetime) -> list[dict[str, Any]]:
    api_down = now - timedelta(days=20)
    post = now - timedelta(days=10)
    quiet = now - timedelta(days=5)
    hostile = now - timedelta(days=3)
    return [
        _incident(
            "inc0api00001",
            "Elevated API error rates",
            "resolved",
            "major",
            api_down,
            [
                _update(
                    "upd0api00001",
                    "inc0api00001",
                    "investigating",
                    "We are investigating errors on the API.",
                    api_down,
                    [("cmp00000api1", "API", "operational", "partial_outage")],
                ),
                _update(
                    "upd0api00002",
                    "inc0api00001",
                    "identified",
                    "A faulty load balancer node.",
                    api_down + timedelta(minutes=20),
                ),
                _update(
                    "upd0api00003",
                    "inc0api00001",
                    "monitoring",
                    "A fix is in place.",
                    api_down + timedelta(minutes=40),
                ),
                _update(
                    "upd0api00004",
                    "inc0api00001",
                    "resolved",
                    "This incident has been resolved.",
                    api_down + timedelta(minutes=60),
                    [("cmp00000api1", "API", "partial_outage", "operational")],
                ),
            ],
            ["cmp00000api1"],
            monitoring=api_down + timedelta(minutes=40),
            resolved=api_down + timedelta(minutes=60),
        ),
        _incident(
            "inc0post0001",
            "Website outage",
            "postmortem",
            "critical",
            post,
            [
                _update(
                    "upd0post0001",
                    "inc0post0001",
                    "investigating",
                    "The website is down.",
                    post,
                    [("cmp0000web01", "Website", "operational", "major_outage")],
                ),
                _update(
                    "upd0post0002",
                    "inc0post0001",
                    "wondering",  # not a Statuspage word: this update is skipped
                    "Hmm.",
                    post + timedelta(minutes=5),
                ),
                _update(
                    "upd0post0003",
                    "inc0post0001",
                    "resolved",
                    "Back up.",
                    post + timedelta(minutes=30),
                    [("cmp0000web01", "Website", "major_outage", "operational")],
                ),
            ],
            ["cmp0000web01"],
            resolved=post + timedelta(minutes=30),
        ),
        _incident(
            "inc0quiet001",
            "Delayed emails",
            "resolved",
            "none",
            quiet,
            [],  # an incident without updates
            [],
            resolved=quiet + timedelta(hours=1),
        ),
        _incident(
            "inc0weird001",
            "A status nobody knows",
            "exploding",
            "minor",
            quiet,
            [],
            [],
        ),
        _incident(
            "inc0hostile1",
            f"{SCRIPT}Login problems",
            "resolved",
            "catastrophic",  # not a Statuspage impact: imported as none
            hostile,
            [
                _update(
                    "upd0hostile1",
                    "inc0hostile1",
                    "resolved",
                    HOSTILE_BODY,
                    hostile + timedelta(minutes=15),
                )
            ],
            [],
            resolved=hostile + timedelta(minutes=15),
        ),
        _incident(HUGE_ID, "An incident with an absurd id", "resolved", "minor", quiet, [], []),
    ]


def open_incident(now: datetime) -> dict[str, Any]:
    """Still going on the source: listed in summary.json and incidents.json alike."""
    start = now - timedelta(hours=2)
    return _incident(
        "inc0open0001",
        "Slow search",
        "monitoring",
        "minor",
        start,
        [
            _update(
                "upd0open0001",
                "inc0open0001",
                "investigating",
                "Search is slow.",
                start,
                [("cmp00search1", "Search", "operational", "degraded_performance")],
            ),
            _update(
                "upd0open0002",
                "inc0open0001",
                "monitoring",
                "A fix is rolling out.",
                start + timedelta(minutes=30),
            ),
        ],
        ["cmp00search1"],
        monitoring=start + timedelta(minutes=30),
    )


def _maintenance(
    ident: str,
    name: str,
    status: str,
    scheduled_for: datetime,
    hours: int,
    updates: list[dict[str, Any]],
    component_ids: list[str],
    *,
    created: datetime,
) -> dict[str, Any]:
    item = _incident(ident, name, status, "maintenance", created, updates, component_ids)
    item["scheduled_for"] = iso(scheduled_for)
    item["scheduled_until"] = iso(scheduled_for + timedelta(hours=hours))
    item["started_at"] = iso(scheduled_for)
    if status == "completed":
        item["resolved_at"] = iso(scheduled_for + timedelta(hours=hours))
    return item


def upcoming_maintenance(now: datetime) -> dict[str, Any]:
    ahead = (now + timedelta(days=3)).replace(microsecond=0)
    return _maintenance(
        "mnt0network1",
        "Network maintenance",
        "scheduled",
        ahead,
        2,
        [
            _update(
                "upd0mnt00011",
                "mnt0network1",
                "scheduled",
                "We will replace a core switch.",
                now - timedelta(days=1),
            )
        ],
        ["cmp000000eu1"],
        created=now - timedelta(days=1),
    )


def maintenance(now: datetime) -> list[dict[str, Any]]:
    done = (now - timedelta(days=12)).replace(microsecond=0)
    return [
        _maintenance(
            "mnt0dbupgrd1",
            "Database upgrade",
            "completed",
            done,
            2,
            [
                _update(
                    "upd0mnt00001",
                    "mnt0dbupgrd1",
                    "scheduled",
                    "The dashboard may be read-only for a few minutes.",
                    done - timedelta(days=7),
                ),
                _update("upd0mnt00002", "mnt0dbupgrd1", "in_progress", "Started.", done),
                _update(
                    "upd0mnt00003",
                    "mnt0dbupgrd1",
                    "completed",
                    "Done.",
                    done + timedelta(minutes=95),
                ),
            ],
            ["cmp000dash01"],
            created=done - timedelta(days=7),
        ),
        upcoming_maintenance(now),
        _maintenance(
            "mnt0postpon1",
            "Postponed work",
            "postponed",  # not a Statuspage word
            done,
            1,
            [],
            [],
            created=done - timedelta(days=7),
        ),
    ]


def statuspage_documents(now: datetime) -> dict[str, Any]:
    """Path -> JSON body of the three documents of the fixture page."""
    page = _page(now)
    return {
        "/api/v2/summary.json": {
            "page": page,
            "components": components(now),
            "incidents": [open_incident(now)],
            "scheduled_maintenances": [upcoming_maintenance(now)],
            "status": {"indicator": "minor", "description": "Partially Degraded Service"},
        },
        "/api/v2/incidents.json": {
            "page": page,
            "incidents": [open_incident(now), *incidents(now)],
        },
        "/api/v2/scheduled-maintenances.json": {
            "page": page,
            "scheduled_maintenances": maintenance(now),
        },
    }


def group_only_documents(now: datetime) -> dict[str, Any]:
    """A page with two groups and nothing else yet: no components, incidents or maintenance."""
    page = {**_page(now), "id": "grouponly001"}
    return {
        "/api/v2/summary.json": {
            "page": page,
            "components": [
                _group("grp0000only1", "Core", 1, [], now),
                _group("grp0000only2", "Edge", 2, [], now),
            ],
            "incidents": [],
            "scheduled_maintenances": [],
            "status": {"indicator": "none", "description": "All Systems Operational"},
        },
        "/api/v2/incidents.json": {"page": page, "incidents": []},
        "/api/v2/scheduled-maintenances.json": {"page": page, "scheduled_maintenances": []},
    }
