"""The public site in the documented production setup, each figure beside its baseline.

`make bench` (or `.venv/bin/python benchmarks/production.py`) starts on this machine what
docs/operations.md recommends, and nothing faster:

- PostgreSQL: a database seeded with `flask seed-bench` (50 components, --incidents past
  incidents), kept between runs while its seed is current (same `statuspage/seed/bench.py`,
  same incident and component counts, under three days old; the seed is recorded in the
  database's COMMENT). Each run writes into a copy (`CREATE DATABASE ... TEMPLATE`), dropped at
  the end. Rows 7 and 8 also read kept databases of --small incidents and of
  --many-components components, seeded the same way when those rows run;
- Redis: `REDIS_URL` on its own database number (--redis-db, emptied at the start);
- gunicorn with `deploy/gunicorn.conf.py` (the file README and operations.md name), one pool per
  `upstream` address of the nginx configuration;
- the worker, `flask --app app worker`, with `STATIC_EXPORT_DIR` set (for it and the web);
- nginx with the documented configuration: `deploy/nginx.conf` when the project has it, else
  the nginx block of docs/operations.md, rewritten only for ports and directories.

Then it measures, taking turns between the measure and its baseline round after round, and
prints one Markdown table (standard output; progress on standard error):

1. cached `/` against a minimal Flask app returning the same bytes and headers under the same
   gunicorn settings (both direct, wrk);
2. cached `/` through nginx against the same nginx serving those bytes from a file;
3. `/` on a cache miss right after a publish, one request at a time (baseline: the hit next);
4. publish latency while wrk loads `/` (worker running), and `/`'s throughput with and
   without publishing;
5. how long a publish takes to reach the snapshot (baseline: a full `snapshot export`);
6. the database hung (a loopback TCP relay that stops answering) and gone (refusing
   connections): time to answer and requests per second, through nginx and direct;
7. `/` without the cache, 100,000 against 100 incidents, one request at a time;
8. `/` without the cache, 200 against 50 components (100,000 incidents each), one request at a
   time: medians, p95, their ratio, the growth per added component in ms and the page's
   uncompressed bytes per added component;
9. `/`'s size (identity, gzip, brotli), `Vary`, and DOM elements;
10. staff requests (`/api/v1`, `/admin/`) while `/` is under load, against without load.

A full run takes about 7 minutes and `--quick` about 3 on the 2-core machine of
docs/performance.md with nothing else running (21 and 14 when other test suites shared it).
Seeding 100,000 incidents takes 1-3 minutes per database (50 and 200 components), once.
`--dry-run` prints the commands and the nginx configuration without starting anything. Needs
nginx and wrk: installed with apt-get when missing and possible (as root on Debian or Ubuntu),
else it stops before starting anything and says so.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import html.parser
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS.parent))
sys.path.insert(0, str(BENCHMARKS))

from harness import (  # noqa: E402
    BROWSER_ENCODINGS,
    KERNEL_SETTINGS,
    PROJECT_ROOT,
    Answer,
    Publishes,
    PublishTarget,
    WrkRun,
    add_publish_target,
    apply_kernel_settings,
    free_port,
    gunicorn_command,
    kernel_settings,
    machine_lines,
    median,
    percentile,
    process,
    publish,
    request,
    wait_until_up,
    wrk,
    wrk_script,
    wrk_until_stopped,
)

from statuspage.seed.bench import COMPONENT_COUNT, GROUP_NAMES  # noqa: E402

SEED_FILE = PROJECT_ROOT / "statuspage" / "seed" / "bench.py"
SEED_MAX_AGE = timedelta(days=3)
DATABASE_PREFIX = "statuspage_bench_"
NGINX_DEPLOY = PROJECT_ROOT / "deploy" / "nginx.conf"
OPERATIONS = PROJECT_ROOT / "docs" / "operations.md"
BROWSER = {"Accept-Encoding": BROWSER_ENCODINGS}

# The bytes and headers of the app's answer, from memory: what gunicorn + Flask cost alone.
MINIMAL_APP = '''
"""The app's answer to `GET /` replayed from memory (body and headers), nothing else."""
import json
import os
from pathlib import Path

from flask import Flask

BODY = Path(os.environ["BENCH_BODY"]).read_bytes()
HEADERS = json.loads(Path(os.environ["BENCH_HEADERS"]).read_text())
app = Flask(__name__)


@app.get("/")
def index():
    return app.response_class(BODY, headers=HEADERS)
'''

# Response headers not replayed by the baseline: the server's own, or framing.
NOT_REPLAYED = {"date", "server", "connection", "content-length", "transfer-encoding", "keep-alive"}


@dataclass
class Mode:
    rounds: int
    seconds: float  # per wrk run
    sequential: int  # requests per side, one at a time
    misses: int
    publish_rounds: int
    publish_seconds: float
    publish_interval: float
    fresh_checks: int
    fault_requests: int
    fault_seconds: float


FULL = Mode(3, 10, 30, 21, 3, 25, 0.5, 4, 3, 10)
QUICK = Mode(2, 4, 10, 7, 2, 10, 0.5, 2, 2, 4)


# Rows of the report


@dataclass
class Row:
    measure: str
    result: str
    baseline: str
    target: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, measure: str, result: str, baseline: str, target: str = "") -> None:
        self.rows.append(Row(measure, result, baseline, target))
        print(f"  {measure}: {result} | baseline: {baseline}", file=sys.stderr)

    def skip(self, measure: str, why: str) -> None:
        self.add(measure, f"not measured: {why}", "", "")


def ratio_text(ratio: float) -> str:
    """Two decimals, or two significant digits for a ratio under 0.1 (0.0011, not 0.00)."""
    return f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.2g}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def component_growth(seconds: dict[int, list[float]], sizes: dict[int, int]) -> tuple[str, str]:
    """The components row: the larger page's median, its ratio to the smaller one, and what
    each added component costs in time ((median many - median few) / added) and in
    uncompressed bytes; keyed by component count."""
    few, many = sorted(seconds)
    medians = {count: median(seconds[count]) for count in (few, many)}
    added = many - few
    growth_ms = (medians[many] - medians[few]) * 1000 / added
    bytes_each = (sizes[many] - sizes[few]) / added

    def side(count: int) -> str:
        return (
            f"median {ms(medians[count])}, p95 {ms(percentile(seconds[count], 0.95))}; "
            f"{sizes[count]:,} B uncompressed ({sizes[count] / count:,.0f} B per component)"
        )

    result = (
        f"**{ms(medians[many])}**, ratio **{medians[many] / medians[few]:.2f}**, "
        f"**{growth_ms:+.2f} ms** and {bytes_each:+,.0f} B per added component; "
        f"{many}: {side(many)}"
    )
    return result, f"{few}: {side(few)}"


# Configuration: nginx as documented, rewritten for this run


def documented_nginx() -> tuple[str, str]:
    """The documented nginx configuration and where it came from."""
    if NGINX_DEPLOY.exists():
        return NGINX_DEPLOY.read_text(), "deploy/nginx.conf"
    text = OPERATIONS.read_text()
    for block in re.findall(r"```nginx\n(.*?)```", text, flags=re.DOTALL):
        if "upstream" in block:
            return block, "the nginx block of docs/operations.md"
    raise SystemExit("no documented nginx configuration (deploy/nginx.conf or docs/operations.md)")


def _inside_http(text: str) -> str:
    """The contents of a full nginx.conf's `http { }` block, or the text if it is a snippet."""
    match = re.search(r"^\s*http\s*\{", text, flags=re.MULTILINE)
    if match is None:
        return text
    depth, start = 0, match.end()
    for index in range(match.end() - 1, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[start:index]
    raise SystemExit("the nginx configuration's http block is not closed")


@dataclass
class NginxSite:
    text: str
    pools: list[tuple[str, int]]  # (upstream name, port) in order of appearance; first = public


def rewrite_nginx(
    template: str, *, listen: int, snapshot_root: Path, cache_dir: Path, ports: dict[str, int]
) -> NginxSite:
    """Point the documented configuration at this run's ports and directories.

    `ports` maps each upstream address of the template (`127.0.0.1:8000`) to a port of this
    run; new addresses get a free port. Nothing else changes.
    """
    text = _inside_http(template)
    text = re.sub(
        r"^\s*include\s+/etc/nginx/(?:sites-enabled|conf\.d)/[^;]*;", "", text, flags=re.M
    )
    # listen: the plain-HTTP one becomes ours; TLS ones and certificates go.
    text = re.sub(r"^\s*listen\s+[^;]*\b443\b[^;]*;\s*$", "", text, flags=re.M)
    text = re.sub(r"^\s*ssl_\w+\s+[^;]*;\s*$", "", text, flags=re.M)
    text = re.sub(
        r"^(\s*)listen\s+[^;]*;", rf"\g<1>listen 127.0.0.1:{listen};", text, count=1, flags=re.M
    )
    text = re.sub(r"^\s*listen\s+\[::\][^;]*;\s*$", "", text, flags=re.M)
    pools: list[tuple[str, int]] = []

    def upstream(match: re.Match[str]) -> str:
        name, body = match.group(1), match.group(2)

        def server(found: re.Match[str]) -> str:
            address = found.group(1)
            if address not in ports:
                ports[address] = free_port()
            if (name, ports[address]) not in pools:
                pools.append((name, ports[address]))
            return f"server 127.0.0.1:{ports[address]}"

        body = re.sub(r"server\s+([\w.\-\[\]]+:\d+)", server, body)
        return f"upstream {name} {{{body}}}"

    text = re.sub(r"upstream\s+(\w+)\s*\{([^}]*)\}", upstream, text)
    text = re.sub(r"root\s+\S+/current\s*;", f"root {snapshot_root};", text)
    text = re.sub(r"proxy_cache_path\s+\S+", f"proxy_cache_path {cache_dir}", text)
    if not pools:
        raise SystemExit("the documented nginx configuration has no upstream server")
    return NginxSite(text, pools)


def nginx_main_config(prefix: Path, site: str, *, baseline: str = "") -> str:
    """Debian's nginx.conf defaults around the site (the documented part), plus a baseline."""
    user = "user nobody nogroup;" if os.geteuid() == 0 else ""
    indented_site = textwrap.indent(site, "    ")
    return (
        textwrap.dedent(
            f"""\
        {user}
        worker_processes auto;
        pid {prefix}/nginx.pid;
        error_log {prefix}/error.log warn;
        daemon off;
        events {{ worker_connections 4096; }}
        http {{
            include /etc/nginx/mime.types;
            default_type application/octet-stream;
            sendfile on;
            tcp_nopush on;
            types_hash_max_size 2048;
            gzip on;
            access_log {prefix}/access.log;
            client_body_temp_path {prefix}/body;
            proxy_temp_path {prefix}/proxy;
            fastcgi_temp_path {prefix}/fastcgi;
            uwsgi_temp_path {prefix}/uwsgi;
            scgi_temp_path {prefix}/scgi;
        """
        )
        + indented_site
        + "\n"
        + textwrap.indent(baseline, "    ")
        + "\n}\n"
    )


def file_server(port: int, body_file: Path, headers: dict[str, str]) -> str:
    """The baseline: the same bytes (and content headers) from a file, nothing in between."""
    add = "".join(
        f"        add_header {name} '{value}';\n"
        for name, value in headers.items()
        if name.lower() in ("content-encoding", "vary", "cache-control", "etag")
        and "'" not in value
    )
    content_type = headers.get("Content-Type", "text/html").split(";")[0]
    return (
        "server {\n"
        f"    listen 127.0.0.1:{port};\n"
        "    gzip off;\n"
        "    location = / {\n"
        f"        root {body_file.parent};\n"
        f"        try_files /{body_file.name} =404;\n"
        f"        default_type {content_type};\n"
        "        types { }\n"
        f"{add}"
        "    }\n"
        "}\n"
    )


# The database: seeded once, copied per run


def admin(url: str, statement: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


def database_url(base: str, name: str) -> str:
    return base.rsplit("/", 1)[0] + "/" + name


def database_name(incidents: int, components: int) -> str:
    """The kept database of this size (`statuspage_bench_100000_50c`)."""
    return f"{DATABASE_PREFIX}{incidents}_{components}c"


def seed_tag(incidents: int, components: int) -> str:
    digest = hashlib.sha256(SEED_FILE.read_bytes()).hexdigest()[:12]
    return f"statuspage seed-bench {digest} incidents={incidents} components={components}"


def flask(args: Sequence[str], env: dict[str, str], *, log: Path) -> None:
    command = [sys.executable, "-m", "flask", "--app", "app", *args]
    with open(log, "ab") as output:
        done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=output)
    if done.returncode != 0:
        raise SystemExit(f"`flask {' '.join(args)}` failed; see {log}")


def seeded_database(
    base: str, incidents: int, env: dict[str, str], log: Path, *, components: int = COMPONENT_COUNT
) -> tuple[str, str]:
    """A database with the benchmark data, reused while its seed is current."""
    name = database_name(incidents, components)
    url = database_url(base, name)
    tag = seed_tag(incidents, components)
    rows = admin(
        base,
        # The name is ours (a constant prefix and numbers), never input.
        f"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{name}'",  # noqa: S608
    )
    comment = rows[0][0] if rows else None
    if comment and comment.startswith(tag + " at="):
        seeded_at = datetime.fromisoformat(comment.split(" at=", 1)[1])
        if datetime.now(UTC) - seeded_at < SEED_MAX_AGE:
            # A migration added since: the data stays, the schema follows the code.
            flask(["db", "upgrade"], {**env, "DATABASE_URL": url}, log=log)
            return url, f"reused, seeded {seeded_at:%Y-%m-%d %H:%M} UTC"
    print(
        f"  seeding {incidents:,} incidents, {components} components into {name} "
        "(flask seed-bench)",
        file=sys.stderr,
    )
    admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(base, f'CREATE DATABASE "{name}"')
    started = time.monotonic()
    seeding_env = {**env, "DATABASE_URL": url}
    flask(["db", "upgrade"], seeding_env, log=log)
    per_group = str(components // len(GROUP_NAMES))
    flask(
        ["seed-bench", "--incidents", str(incidents), "--components-per-group", per_group],
        seeding_env,
        log=log,
    )
    admin(url, "ANALYZE")  # what autovacuum would do soon after a load this size
    seconds = time.monotonic() - started
    admin(base, f"COMMENT ON DATABASE \"{name}\" IS '{tag} at={datetime.now(UTC).isoformat()}'")
    return url, f"seeded in {seconds:.0f} s"


# A database that stops answering


class DatabaseRelay:
    """A loopback TCP relay to PostgreSQL that can hang (never answer) or go away (refuse)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.mode = "forward"
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _keep(self, *sockets: socket.socket) -> None:
        with self.lock:
            self.sockets.update(sockets)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._keep(client)
            if self.mode == "forward":
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client.close()
                    continue
                upstream.settimeout(None)
                self._keep(upstream)
                threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
                threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
            else:  # hung: take the bytes, never answer
                threading.Thread(target=self._pump, args=(client, None), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket | None) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                while self.mode == "hung":
                    time.sleep(0.05)  # hold the bytes: the other side waits for ever
                if self.mode == "gone" or sink is None:
                    break
                sink.sendall(data)
        with contextlib.suppress(OSError):
            source.close()

    def hang(self) -> None:
        self.mode = "hung"

    def go(self) -> None:
        """Gone: every connection reset, new ones refused."""
        self.mode = "gone"
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (Linux)
        self.listener.close()
        with self.lock:
            sockets, self.sockets = list(self.sockets), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                sock.close()


# Counting DOM elements


class ElementCounter(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: Counter[str] = Counter()
        self.texts = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags[tag] += 1

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.tags[tag] += 1

    def handle_data(self, data: str) -> None:
        self.texts += 1  # every text run, whitespace too, as a browser's DOM keeps it


def dom_elements(body: bytes) -> Counter[str]:
    return dom_count(body).tags


def dom_count(body: bytes) -> ElementCounter:
    counter = ElementCounter()
    counter.feed(body.decode("utf-8", errors="replace"))
    counter.close()
    return counter


# The run


@dataclass
class Stack:
    rundir: Path
    env: dict[str, str]
    public_port: int  # gunicorn of the pool nginx sends `/` to
    nginx_port: int
    file_port: int
    pools: list[tuple[str, int]]
    snapshot_dir: Path
    target: PublishTarget
    script: Path  # wrk: GET / as a browser asks
    body_file: Path
    headers_file: Path


class Benchmark:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.mode = QUICK if args.quick else FULL
        self.report = Report()
        self.stack: Stack | None = None
        self.logs: list[Path] = []
        self.publish_number = 0
        self.quiet_publishes_ms: list[float] = []
        self.export_seconds = float("nan")

    # servers

    def log(self, rundir: Path, name: str) -> Path:
        path = rundir / f"{name}.log"
        self.logs.append(path)
        return path

    def gunicorn(
        self, stack: contextlib.ExitStack, rundir: Path, name: str, port: int, env: dict[str, str],
        *, target: str = "app:app", cwd: Path = PROJECT_ROOT, probe: str = "/api/v2/status.json",
    ) -> int:  # fmt: skip
        log = self.log(rundir, name)
        # SIGQUIT: gunicorn's quick shutdown; the run is over, nothing to finish.
        child = stack.enter_context(
            process(
                gunicorn_command(target, port),
                name=name, env=env, cwd=cwd, log=log, stop_signal=signal.SIGQUIT,
            )
        )  # fmt: skip
        wait_until_up(child, port, probe, name=name, log=log)
        return port

    def pool_env(self, env: dict[str, str], index: int) -> dict[str, str]:
        """The first upstream is the readers' pool; any other (staff) gets --staff-workers."""
        if index == 0:
            return env
        return {
            **env,
            "WEB_CONCURRENCY": str(self.args.staff_workers),
            "GUNICORN_NICENESS": str(self.args.staff_niceness),
        }

    def nginx(
        self, stack: contextlib.ExitStack, rundir: Path, name: str, config: str, port: int
    ) -> Path:
        prefix = rundir / name
        prefix.mkdir(exist_ok=True)
        os.chmod(prefix, 0o755)  # noqa: S103 - nginx's workers (nobody) read nothing secret here
        conf = prefix / "nginx.conf"
        conf.write_text(config)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        base = [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
        checked = subprocess.run([*base, "-t"], capture_output=True, text=True)
        if checked.returncode != 0:
            raise SystemExit(f"nginx -t refused the configuration:\n{checked.stderr}\n{config}")
        log = self.log(rundir, name)
        stack.enter_context(
            process(
                base,
                name=name,
                env=dict(os.environ),
                cwd=prefix,
                log=log,
                stop_signal=signal.SIGQUIT,
            )
        )
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"{name} does not listen on {port}; see {prefix / 'error.log'}")
            time.sleep(0.1)
        return conf

    def next_publish(self, port: int, result: Publishes, tag: str) -> str:
        assert self.stack is not None
        self.publish_number += 1
        return publish(port, self.stack.target, self.publish_number, result, tag=tag)

    # measuring helpers

    def alternate(
        self, sides: dict[str, Callable[[], WrkRun]], rounds: int
    ) -> dict[str, list[WrkRun]]:
        runs: dict[str, list[WrkRun]] = {label: [] for label in sides}
        for number in range(rounds):
            for label, run in sides.items():
                runs[label].append(run())
                last = runs[label][-1]
                print(
                    f"    round {number + 1} {label}: {last.rate:,.0f} req/s, p50 "
                    f"{last.p50_ms:.1f} ms, errors {last.errors}",
                    file=sys.stderr,
                )
        return runs

    def load(self, port: int, seconds: float, *, script: Path | None = None) -> WrkRun:
        assert self.stack is not None
        return wrk(
            f"http://127.0.0.1:{port}/",
            script=script or self.stack.script,
            seconds=seconds,
            threads=self.args.threads,
            connections=self.args.connections,
        )

    @staticmethod
    def ratio(a: list[WrkRun], b: list[WrkRun]) -> tuple[float, str]:
        ratios = [x.rate / y.rate for x, y in zip(a, b, strict=True) if y.rate]
        return median(ratios), ", ".join(ratio_text(r) for r in ratios)

    @staticmethod
    def rates(runs: list[WrkRun]) -> str:
        errors = sum(run.errors for run in runs)
        rate, p50 = median([r.rate for r in runs]), median([r.p50_ms for r in runs])
        text = f"{rate:,.0f} req/s (p50 {p50:.1f} ms)"
        return text + (f", {errors} errors" if errors else "")

    def sequential(self, port: int, path: str, count: int, headers: dict[str, str] | None = None,
                   timeout: float = 60) -> list[Answer]:  # fmt: skip
        return [
            request(port, "GET", path, headers=headers or BROWSER, timeout=timeout)
            for _ in range(count)
        ]

    # sections

    def size(self) -> None:
        assert self.stack is not None
        port = self.stack.nginx_port
        print("size: `/` through nginx", file=sys.stderr)
        answers = {
            encoding: request(port, "GET", "/", headers={"Accept-Encoding": encoding})
            for encoding in ("identity", "gzip", "br")
        }
        raw = answers["identity"].body
        parts = []
        for encoding, answer in answers.items():
            sent = answer.header("Content-Encoding") or "identity"
            parts.append(
                f"{encoding}: {len(answer.body):,} B"
                + ("" if sent == encoding else f" (sent {sent})")
            )
        computed = f"gzip -6 {len(gzip.compress(raw, 6)):,} B"
        try:
            import brotli
        except ImportError:
            computed += " (brotli: the package is not installed)"
        else:
            computed += f", brotli -11 {len(brotli.compress(raw)):,} B"
        vary = answers["gzip"].header("Vary") or "none"
        self.report.add(
            "`/` size on the wire through nginx (Accept-Encoding asked)",
            "; ".join(parts) + f"; `Vary`: {vary}",
            f"the raw body compressed here: {computed}",
            "under 15 KB compressed",
        )
        counted = dom_count(raw)
        tags = counted.tags
        top = ", ".join(f"{count:,} `<{tag}>`" for tag, count in tags.most_common(4))
        self.report.add(
            "`/` DOM: elements (and nodes, text included)",
            f"{sum(tags.values()):,} elements ({top}); "
            f"{sum(tags.values()) + counted.texts:,} nodes",
            "",
            "under 2,000",
        )

    def app_against_minimal(self, rundir: Path) -> None:
        assert self.stack is not None
        stack = self.stack
        print("cached `/` against a minimal Flask app, same bytes, same gunicorn", file=sys.stderr)
        with contextlib.ExitStack() as servers:
            replay = {"BENCH_BODY": str(stack.body_file), "BENCH_HEADERS": str(stack.headers_file)}
            port = self.gunicorn(
                servers, rundir, "minimal", free_port(), {**os.environ, **replay},
                target="minimal_app:app", cwd=rundir, probe="/",
            )  # fmt: skip
            same = request(port, "GET", "/", headers=BROWSER).body == stack.body_file.read_bytes()
            runs = self.alternate(
                {
                    "app": lambda: self.load(stack.public_port, self.mode.seconds),
                    "minimal": lambda: self.load(port, self.mode.seconds),
                },
                self.mode.rounds,
            )
        ratio, rounds = self.ratio(runs["app"], runs["minimal"])
        self.report.add(
            "cached `/` against a minimal Flask app returning the same bytes (gunicorn direct)",
            f"**{ratio:.2f}** (rounds {rounds}); app {self.rates(runs['app'])}",
            f"minimal app {self.rates(runs['minimal'])}" + ("" if same else " (bytes differ!)"),
            "at least 0.9",
        )

    def app_against_file(self) -> None:
        assert self.stack is not None
        stack = self.stack
        print("cached `/` through nginx against nginx serving the same bytes", file=sys.stderr)
        runs = self.alternate(
            {
                "app": lambda: self.load(stack.nginx_port, self.mode.seconds),
                "file": lambda: self.load(stack.file_port, self.mode.seconds),
            },
            self.mode.rounds,
        )
        ratio, rounds = self.ratio(runs["app"], runs["file"])
        self.report.add(
            "cached `/` through the documented nginx against nginx serving the same bytes "
            "from a file",
            f"**{ratio_text(ratio)}** (rounds {rounds}); app {self.rates(runs['app'])}",
            f"file {self.rates(runs['file'])}",
            "at least 0.5",
        )

    def staff(self) -> None:
        assert self.stack is not None
        stack = self.stack
        pools = ", ".join(f"`{name}` ({port})" for name, port in stack.pools)
        print("staff requests with and without load on `/`", file=sys.stderr)
        auth = {"Authorization": f"Bearer {stack.target.token}"}
        api = f"/api/v1/incidents/{stack.target.incident_id}"
        quiet: dict[str, list[float]] = {"api": [], "admin": []}
        loaded: dict[str, list[float]] = {"api": [], "admin": []}
        count = max(5, self.mode.sequential // 2)

        def sample(into: dict[str, list[float]]) -> None:
            for _ in range(count):
                into["api"].append(request(stack.nginx_port, "GET", api, headers=auth).seconds)
                into["admin"].append(request(stack.nginx_port, "GET", "/admin/").seconds)

        for _ in range(self.mode.rounds):
            sample(quiet)
            with wrk_until_stopped(
                f"http://127.0.0.1:{stack.nginx_port}/", script=stack.script,
                threads=self.args.threads, connections=self.args.connections,
            ):  # fmt: skip
                time.sleep(1)
                sample(loaded)
        for key, path in (
            ("api", "`GET /api/v1/incidents/<id>`"),
            ("admin", "`GET /admin/` (to login)"),
        ):
            self.report.add(
                f"staff {path} while wrk loads `/` (pools: {pools})",
                f"p50 {ms(median(loaded[key]))}, p95 {ms(percentile(loaded[key], 0.95))}",
                f"without load p50 {ms(median(quiet[key]))}, "
                f"p95 {ms(percentile(quiet[key], 0.95))}",
                "staff never queue behind public traffic",
            )

    def miss_after_publish(self) -> None:
        assert self.stack is not None
        stack = self.stack
        print("`/` on a cache miss after a publish", file=sys.stderr)
        misses: list[float] = []
        hits: list[float] = []
        labels: Counter[str] = Counter()
        result = Publishes()
        for _ in range(self.mode.misses):
            self.next_publish(stack.nginx_port, result, "miss")
            answer = request(stack.public_port, "GET", "/", headers=BROWSER)
            labels[answer.header("X-Public-Cache") or "no header"] += 1
            misses.append(answer.seconds)
            hits.append(request(stack.public_port, "GET", "/", headers=BROWSER).seconds)
            time.sleep(0.3)
        self.quiet_publishes_ms = result.latencies_ms
        seen = ", ".join(f"{k} {v}" for k, v in labels.items())
        self.report.add(
            "`/` right after a publish (gunicorn direct, one request at a time)",
            f"median **{ms(median(misses))}** ({ms(min(misses))} to {ms(max(misses))}), "
            f"{len(misses)} publishes; `X-Public-Cache`: {seen}",
            f"the next request: median {ms(median(hits))}",
            "under 50 ms",
        )

    def snapshot_freshness(self) -> None:
        assert self.stack is not None
        stack = self.stack
        print("snapshot freshness after a publish", file=sys.stderr)
        current = stack.snapshot_dir / "current" / "index.html"
        delays: list[float] = []
        most_building = 0
        result = Publishes()
        for _ in range(self.mode.fresh_checks):
            time.sleep(1)
            body = self.next_publish(stack.nginx_port, result, "fresh")
            started = time.monotonic()
            while time.monotonic() - started < self.args.fresh_timeout:
                building = [
                    p for p in stack.snapshot_dir.iterdir() if p.name.startswith(".partial")
                ]
                most_building = max(most_building, len(building))
                with contextlib.suppress(OSError):
                    if body.encode() in current.read_bytes():
                        delays.append(time.monotonic() - started)
                        break
                time.sleep(0.05)
            else:
                delays.append(float("inf"))
        never = f"not within {self.args.fresh_timeout:g} s"

        def seconds_text(delay: float) -> str:
            return never if delay == float("inf") else f"{delay:.1f} s"

        text = ", ".join(seconds_text(d) for d in delays)
        self.report.add(
            "a publish in the snapshot's `index.html` (worker running)",
            f"median **{seconds_text(median(delays))}** ({text}); at most {most_building} exports "
            "building at once",
            f"a full `flask snapshot export --force`: {self.export_seconds:.1f} s",
            "within 5 s, never two exports at once",
        )

    def publish_under_load(self) -> None:
        assert self.stack is not None
        stack = self.stack
        mode = self.mode
        print("publishing while wrk loads `/` through nginx", file=sys.stderr)
        without: list[WrkRun] = []
        with_publishing: list[WrkRun] = []
        result = Publishes()
        for number in range(mode.publish_rounds):
            without.append(self.load(stack.nginx_port, mode.publish_seconds))
            with wrk_until_stopped(
                f"http://127.0.0.1:{stack.nginx_port}/", script=stack.script,
                threads=self.args.threads, connections=self.args.connections,
            ) as runs:  # fmt: skip
                ends = time.monotonic() + mode.publish_seconds
                while time.monotonic() < ends:
                    began = time.monotonic()
                    self.next_publish(stack.nginx_port, result, "load")
                    time.sleep(max(0.0, mode.publish_interval - (time.monotonic() - began)))
            with_publishing.extend(runs)
            print(
                f"    round {number + 1}: without {without[-1].rate:,.0f} req/s, with "
                f"{runs[0].rate if runs else 0:,.0f} req/s; {len(result.latencies_ms)} publishes",
                file=sys.stderr,
            )
        latencies = result.latencies_ms
        slowest = ", ".join(f"{ms:,.0f}" for ms in sorted(latencies)[-10:])
        print(f"    the 10 slowest publishes (ms): {slowest}", file=sys.stderr)
        quiet = self.quiet_publishes_ms
        failed = f", {len(result.failures)} failed" if result.failures else ""
        self.report.add(
            f"publish (`POST /api/v1/.../updates` via nginx, every {mode.publish_interval:g} s) "
            "while wrk loads `/`, worker running",
            f"p50 {median(latencies):,.0f} ms, **p95 {percentile(latencies, 0.95):,.0f} ms**, "
            f"max {max(latencies, default=float('nan')):,.0f} ms over {len(latencies)} "
            f"publishes{failed}",
            f"without load ({len(quiet)} publishes, one at a time): p50 {median(quiet):,.0f} ms, "
            f"p95 {percentile(quiet, 0.95):,.0f} ms",
            "p95 under 100 ms",
        )
        ratio, rounds = self.ratio(with_publishing, without)
        self.report.add(
            "`/` through nginx while publishing, against without publishing",
            f"**{ratio:.2f}** (rounds {rounds}); {self.rates(with_publishing)}",
            f"without publishing {self.rates(without)}",
            "at least 0.8",
        )
        if result.failures:
            self.report.notes.append("Publish failures: " + "; ".join(result.failures[:3]))

    def faults(self, rundir: Path, template: str) -> None:
        """The database hung, and gone: each behind a fresh app and nginx of its own."""
        assert self.stack is not None
        stack = self.stack
        print("the database hung, and gone", file=sys.stderr)
        pg_host, pg_port = self.args.pg_host_port
        results: dict[str, tuple[str, str, int]] = {}
        for fault in ("hung", "gone"):
            relay = DatabaseRelay(pg_host, pg_port)
            url = stack.env["DATABASE_URL"].replace(
                f"{pg_host}:{pg_port}", f"127.0.0.1:{relay.port}"
            )
            with contextlib.ExitStack() as servers:
                site = rewrite_nginx(
                    template,
                    listen=free_port(),
                    snapshot_root=stack.snapshot_dir / "current",
                    cache_dir=rundir / f"{fault}-cache",
                    ports={},
                )
                env = {**stack.env, "DATABASE_URL": url}
                for index, (name, port) in enumerate(site.pools):
                    self.gunicorn(
                        servers, rundir, f"{fault}-{name}-{port}", port, self.pool_env(env, index)
                    )
                nginx_port = int(re.search(r"listen 127\.0\.0\.1:(\d+);", site.text).group(1))  # type: ignore[union-attr]
                config = nginx_main_config(rundir / f"nginx-{fault}", site.text)
                self.nginx(servers, rundir, f"nginx-{fault}", config, nginx_port)
                app_port = site.pools[0][1]
                for _ in range(10):  # warm every worker
                    request(nginx_port, "GET", "/", headers=BROWSER)
                if not results:
                    results["healthy"] = (*self.measure_fault("healthy", nginx_port, app_port), 0)
                before = self.count_log_lines(rundir, f"{fault}-")
                if fault == "hung":
                    relay.hang()
                else:
                    relay.go()
                text, rate = self.measure_fault(fault, nginx_port, app_port)
                results[fault] = (text, rate, self.count_log_lines(rundir, f"{fault}-") - before)
            if fault == "hung":
                relay.go()  # let the stuck workers' connections end
        healthy, healthy_rate, _ = results["healthy"]
        for fault, measure in (
            ("hung", "database hung (port open, never answers), `/`"),
            ("gone", "database gone (connections refused), `/`"),
        ):
            text, _, logged = results[fault]
            self.report.add(
                measure,
                f"{text}; {logged:,} lines logged by that gunicorn meanwhile",
                f"the database healthy, same setup: {healthy}",
                "answer within 1 s (503 or the stored copy; nginx falls back to the snapshot "
                "quickly); no log line per request",
            )

    def measure_fault(self, label: str, nginx_port: int, app_port: int) -> tuple[str, str]:
        mode, timeout = self.mode, self.args.fault_timeout
        answers: list[tuple[float, str]] = []
        for _ in range(mode.fault_requests):
            try:
                answer = request(nginx_port, "GET", "/", headers=BROWSER, timeout=timeout)
                copy = " snapshot" if answer.header("X-Status-Snapshot") else ""
                answers.append((answer.seconds, f"{answer.status}{copy}"))
            except OSError:
                answers.append((timeout, "no answer"))
        direct: list[tuple[float, str]] = []
        for _ in range(max(1, mode.fault_requests // 2)):
            try:
                answer = request(app_port, "GET", "/", headers=BROWSER, timeout=timeout)
                direct.append((answer.seconds, str(answer.status)))
            except OSError:
                direct.append((timeout, f"no answer in {timeout:g} s"))
        run = self.load(nginx_port, mode.fault_seconds)
        statuses = Counter(status for _, status in answers)
        text = (
            f"through nginx median {ms(median([s for s, _ in answers]))}, max "
            f"{ms(max(s for s, _ in answers))} "
            f"({', '.join(f'{k} x{v}' for k, v in statuses.items())}); "
            f"gunicorn direct median {ms(median([s for s, _ in direct]))} "
            f"({', '.join(sorted({s for _, s in direct}))}); under wrk {run.rate:,.0f} req/s "
            f"({run.requests:,} answers in {run.seconds:.0f} s), "
            f"{run.non_2xx_3xx} non-2xx, {run.socket_errors} socket errors"
        )
        print(f"    {label}: {text}", file=sys.stderr)
        return text, f"{run.rate:,.0f} req/s, p50 {run.p50_ms:.1f} ms"

    def count_log_lines(self, rundir: Path, prefix: str) -> int:
        return sum(
            len(path.read_text(errors="replace").splitlines())
            for path in rundir.glob(f"{prefix}*.log")
        )

    def uncached(self, rundir: Path, big_url: str, small_url: str) -> None:
        assert self.stack is not None
        print(
            f"`/` without the cache, {self.args.incidents:,} against {self.args.small:,}",
            file=sys.stderr,
        )
        env = {**self.stack.env, "STATUSPAGE_PUBLIC_CACHE_STORAGE": "none"}
        env.pop("STATIC_EXPORT_DIR", None)
        with contextlib.ExitStack() as servers:
            big = self.gunicorn(
                servers, rundir, "uncached-big", free_port(), {**env, "DATABASE_URL": big_url}
            )
            small = self.gunicorn(
                servers, rundir, "uncached-small", free_port(), {**env, "DATABASE_URL": small_url}
            )
            workers = 2 * (os.cpu_count() or 1) + 1
            for port in (big, small):
                self.sequential(port, "/", 2 * workers)  # each worker's first render is cold
            times: dict[int, list[float]] = {big: [], small: []}
            for _ in range(self.mode.sequential):
                for port in (big, small):
                    times[port].append(request(port, "GET", "/", headers=BROWSER).seconds)
        ratio = median(times[big]) / median(times[small])
        self.report.add(
            f"`/` without the cache, {self.args.incidents:,} incidents against "
            f"{self.args.small:,}, one request at a time",
            f"**{ratio:.2f}**; {self.args.incidents:,}: median {ms(median(times[big]))}, p95 "
            f"{ms(percentile(times[big], 0.95))}",
            f"{self.args.small:,}: median {ms(median(times[small]))}, p95 "
            f"{ms(percentile(times[small], 0.95))}",
            "at most 1.2",
        )

    def components(self, rundir: Path, few_url: str, many_url: str) -> None:
        assert self.stack is not None
        few, many = COMPONENT_COUNT, self.args.many_components
        print(f"`/` without the cache, {many} against {few} components", file=sys.stderr)
        env = {**self.stack.env, "STATUSPAGE_PUBLIC_CACHE_STORAGE": "none"}
        env.pop("STATIC_EXPORT_DIR", None)
        with contextlib.ExitStack() as servers:
            ports: dict[int, int] = {}
            for count, url in ((many, many_url), (few, few_url)):
                with_url = {**env, "DATABASE_URL": url}
                ports[count] = self.gunicorn(
                    servers, rundir, f"components-{count}", free_port(), with_url
                )
            workers = 2 * (os.cpu_count() or 1) + 1
            for port in ports.values():
                self.sequential(port, "/", 2 * workers)  # each worker's first render is cold
            raw = {
                count: request(port, "GET", "/", headers={"Accept-Encoding": "identity"})
                for count, port in ports.items()
            }
            times: dict[int, list[float]] = {many: [], few: []}
            statuses: Counter[int] = Counter()
            for _ in range(self.mode.sequential):
                for count, port in ports.items():
                    answer = request(port, "GET", "/", headers=BROWSER)
                    statuses[answer.status] += 1
                    times[count].append(answer.seconds)
        failed = {status: n for status, n in statuses.items() if status != 200}
        failed.update({answer.status: 1 for answer in raw.values() if answer.status != 200})
        if failed:
            self.report.skip(
                f"`/` without the cache, {many} components against {few}",
                "answers " + ", ".join(f"{status} ({n})" for status, n in failed.items()),
            )
            return
        result, baseline = component_growth(
            times, {count: len(answer.body) for count, answer in raw.items()}
        )
        self.report.add(
            f"`/` without the cache, {many} components against {few} "
            f"({self.args.incidents:,} incidents each), one request at a time",
            result,
            baseline,
            f"{many} components under 150 ms",
        )

    # the whole run

    def run(self) -> None:
        args = self.args
        template, source = documented_nginx()
        ensure_tools(install=not args.no_install)
        started = time.monotonic()
        load_at_start = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(workdir, 0o755)  # noqa: S103 - nginx (nobody) reads the snapshot
        with contextlib.ExitStack() as stack:
            rundir = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
            os.chmod(rundir, 0o755)  # noqa: S103 - as above
            if not args.keep_run:
                stack.callback(shutil.rmtree, rundir, ignore_errors=True)
            setup_log = self.log(rundir, "setup")
            kernel = apply_kernel_settings(stack, kernel_settings())
            base_env = {
                **os.environ,
                "APP_ENV": "production",
                "SECRET_KEY": secrets.token_hex(32),
                "REDIS_URL": f"{args.redis_url.rstrip('/')}/{args.redis_db}",
                "STATUSPAGE_MAIL_TRANSPORT": "file",
                "STATUSPAGE_MAIL_FILE_DIR": str(rundir / "mail"),
                "STATUSPAGE_PROXY_FIX_X_FOR": "1",
                "GUNICORN_LOG_LEVEL": "warning",
            }
            print(f"database: {args.incidents:,} incidents", file=sys.stderr)
            big_url, big_how = seeded_database(
                args.database_url_base, args.incidents, base_env, setup_log
            )
            data = [f"{args.incidents:,} incidents ({big_how})"]
            # The other kept databases only for the rows that read them.
            small_url = many_url = ""
            if wanted(args, "uncached"):
                small_url, small_how = seeded_database(
                    args.database_url_base, args.small, base_env, setup_log
                )
                data.append(f"{args.small:,} ({small_how})")
            if wanted(args, "components"):
                many_url, many_how = seeded_database(
                    args.database_url_base, args.incidents, base_env, setup_log,
                    components=args.many_components,
                )  # fmt: skip
                data.append(f"{args.incidents:,} on {args.many_components} components ({many_how})")
            run_name = f"{DATABASE_PREFIX}run_{secrets.token_hex(3)}"
            template_name = database_name(args.incidents, COMPONENT_COUNT)
            admin(
                args.database_url_base,
                f'CREATE DATABASE "{run_name}" TEMPLATE "{template_name}"',
            )
            stack.callback(
                admin, args.database_url_base, f'DROP DATABASE IF EXISTS "{run_name}" WITH (FORCE)'
            )
            run_url = database_url(args.database_url_base, run_name)
            import redis

            redis.Redis.from_url(base_env["REDIS_URL"]).flushdb()
            target = add_publish_target(run_url)
            snapshot_dir = rundir / "snapshot"
            env = {
                **base_env,
                "DATABASE_URL": run_url,
                "STATUSPAGE_STATIC_EXPORT_DIR": str(snapshot_dir),
            }

            print("the first snapshot (flask snapshot export --force)", file=sys.stderr)
            began = time.monotonic()
            flask(["snapshot", "export", "--force"], env, log=setup_log)
            self.export_seconds = time.monotonic() - began
            for path in (snapshot_dir, *snapshot_dir.rglob("*")):
                if path.is_dir() and not path.is_symlink():
                    os.chmod(path, 0o755)  # noqa: S103 - as above

            print("starting the worker, gunicorn and nginx", file=sys.stderr)
            stack.enter_context(
                process(
                    [sys.executable, "-m", "flask", "--app", "app", "worker"],
                    name="worker", env=env, cwd=PROJECT_ROOT, log=self.log(rundir, "worker"),
                    stop_signal=signal.SIGTERM,  # stop at once (operations.md)
                )
            )  # fmt: skip
            nginx_port, file_port = free_port(), free_port()
            site = rewrite_nginx(
                template, listen=nginx_port, snapshot_root=snapshot_dir / "current",
                cache_dir=rundir / "nginx-cache", ports={},
            )  # fmt: skip
            for index, (name, port) in enumerate(site.pools):
                self.gunicorn(
                    stack, rundir, f"gunicorn-{name}-{port}", port, self.pool_env(env, index)
                )
            public_port = site.pools[0][1]
            script = wrk_script(rundir / "front-page.lua", paths=["/"], headers=BROWSER)
            (rundir / "minimal_app.py").write_text(MINIMAL_APP)

            # The bytes a browser gets: direct (for the minimal app), through nginx (for the file).
            for _ in range(3):
                direct = request(public_port, "GET", "/", headers=BROWSER)
            headers = {k: v for k, v in direct.headers.items() if k.lower() not in NOT_REPLAYED}
            body_file, headers_file = rundir / "front-page.body", rundir / "front-page.headers.json"
            body_file.write_bytes(direct.body)
            headers_file.write_text(json.dumps(headers))
            nginx_body = rundir / "front-page-nginx.body"
            self.nginx(
                stack, rundir, "nginx", nginx_main_config(rundir / "nginx", site.text), nginx_port
            )
            for _ in range(3):
                through = request(nginx_port, "GET", "/", headers=BROWSER)
            nginx_body.write_bytes(through.body)
            os.chmod(nginx_body, 0o644)
            # The baseline file server: an nginx of its own with the same main settings.
            baseline = file_server(file_port, nginx_body, through.headers)
            self.nginx(
                stack, rundir, "nginx-file",
                nginx_main_config(rundir / "nginx-file", "", baseline=baseline), file_port,
            )  # fmt: skip
            if request(file_port, "GET", "/", headers=BROWSER).body != through.body:
                raise SystemExit("the file server does not serve the bytes nginx gave for /")
            self.stack = Stack(
                rundir, env, public_port, nginx_port, file_port, site.pools, snapshot_dir, target,
                script, body_file, headers_file,
            )  # fmt: skip
            cache_label = direct.header("X-Public-Cache") or "no X-Public-Cache header"
            self.report.notes += [
                f"- nginx: {source}; {len(site.pools)} gunicorn pool(s): "
                + ", ".join(f"`{name}`" for name, _ in site.pools)
                + (
                    f" (the second with {args.staff_workers} workers)"
                    if len(site.pools) > 1
                    else ""
                ),
                f"- gunicorn: `-c deploy/gunicorn.conf.py` ({2 * (os.cpu_count() or 1) + 1} sync "
                f"workers on {os.cpu_count()} CPUs), `APP_ENV=production`, `REDIS_URL` (db "
                f"{args.redis_db}), PostgreSQL, the worker running with `STATIC_EXPORT_DIR`",
                f"- kernel ({KERNEL_SETTINGS.relative_to(PROJECT_ROOT)}): " + "; ".join(kernel),
                f"- data ({COMPONENT_COUNT} components unless said): " + ", ".join(data),
                f"- `GET /` as a browser asks (`Accept-Encoding: {BROWSER_ENCODINGS}`): "
                f"{len(direct.body):,} bytes, `Content-Encoding: "
                f"{direct.header('Content-Encoding') or 'none'}`, {cache_label}",
                f"- wrk -t{args.threads} -c{args.connections}; {self.mode.rounds} rounds of "
                f"{self.mode.seconds:g} s taking turns; figures are medians over the rounds",
            ]
            rows: dict[str, Callable[[], None]] = {
                "size": self.size,
                "uncached": lambda: self.uncached(rundir, big_url, small_url),
                "components": lambda: self.components(rundir, big_url, many_url),
                "minimal": lambda: self.app_against_minimal(rundir),
                "file": self.app_against_file,
                "staff": self.staff,
                "miss": self.miss_after_publish,
                "fresh": self.snapshot_freshness,
                "faults": lambda: self.faults(rundir, template),
                "publish": self.publish_under_load,
            }
            for name, measure in rows.items():
                if wanted(args, name):
                    measure()
        load_at_end = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        self.print_report(started, load_at_start, load_at_end)

    def print_report(self, started: float, load_at_start: str, load_at_end: str) -> None:
        command = " ".join(["benchmarks/production.py", *sys.argv[1:]])
        out = [
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `{command}` "
            f"in {(time.monotonic() - started) / 60:.1f} min.",
            "",
            *machine_lines(),
            f"- load average (1, 5, 15 min) at the start {load_at_start}, at the end {load_at_end}",
            *self.report.notes,
            "",
            "| measure | result | baseline, same run | target |",
            "|---|---|---|---|",
        ]
        for row in self.report.rows:
            out.append(f"| {row.measure} | {row.result} | {row.baseline} | {row.target} |")
        print("\n".join(out))


def ensure_tools(*, install: bool) -> None:
    """nginx and wrk, from apt-get when missing and possible; else stop, saying what to do."""
    missing = [
        tool
        for tool in ("nginx", "wrk")
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists()
    ]
    if missing and install and shutil.which("apt-get") and os.geteuid() == 0:
        print(f"installing {' '.join(missing)} with apt-get", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", *missing], capture_output=True, check=False)
        missing = [
            tool
            for tool in missing
            if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists()
        ]
    if missing:
        raise SystemExit(
            f"needs {' and '.join(missing)} (apt-get install -y nginx wrk): the measured setup "
            "has nginx in front and most rows are loaded by wrk; it runs all rows or none"
        )


def dry_run(args: argparse.Namespace) -> None:
    """Print what would start, without starting it."""
    template, source = documented_nginx()
    rundir = Path(args.workdir) / "run-DRY"
    site = rewrite_nginx(
        template, listen=8080, snapshot_root=rundir / "snapshot" / "current",
        cache_dir=rundir / "nginx-cache", ports={},
    )  # fmt: skip
    print(f"# nginx from {source}; pools: {site.pools}")
    for name, port in site.pools:
        print("# gunicorn", name, ":", " ".join(gunicorn_command("app:app", port)))
    print("# worker:", " ".join([sys.executable, "-m", "flask", "--app", "app", "worker"]))
    settings = ", ".join(f"{key} = {value}" for key, value in kernel_settings().items())
    print(f"# kernel, from {KERNEL_SETTINGS.relative_to(PROJECT_ROOT)}: {settings}")
    print(nginx_main_config(rundir / "nginx", site.text))


ROW_NAMES = (
    "size", "uncached", "components", "minimal", "file", "staff", "miss", "fresh", "faults",
    "publish",
)  # fmt: skip


def wanted(args: argparse.Namespace, row: str) -> bool:
    """Whether this run measures the row (every row unless --only names some)."""
    return args.only is None or row in args.only


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter rounds: a few minutes")
    parser.add_argument("--dry-run", action="store_true", help="print the setup, start nothing")
    parser.add_argument(
        "--database-url-base", default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL URL allowed to create databases",
    )  # fmt: skip
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379")
    parser.add_argument("--redis-db", type=int, default=14, help="emptied at the start")
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument(
        "--many-components", type=int, default=200,
        help=f"the components row's larger page, against {COMPONENT_COUNT} components "
        f"(a multiple of {len(GROUP_NAMES)}, the groups)",
    )  # fmt: skip
    parser.add_argument(
        "--staff-workers", type=int, default=3,
        help="gunicorn workers of a second (staff) pool, when nginx has one",
    )  # fmt: skip
    parser.add_argument(
        "--staff-niceness", type=int, default=-5,
        help="GUNICORN_NICENESS of the staff pool (deploy/nginx.conf and operations.md: -5)",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections")
    parser.add_argument("--fresh-timeout", type=float, default=30)
    parser.add_argument("--fault-timeout", type=float, default=15)
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "statuspage-bench"))
    parser.add_argument("--keep-run", action="store_true", help="keep the run's directory (logs)")
    parser.add_argument("--no-install", action="store_true", help="never apt-get nginx or wrk")
    parser.add_argument(
        "--only",
        type=lambda text: set(text.split(",")),
        help=f"only these rows, comma-separated: {', '.join(ROW_NAMES)} "
        "(a focused re-measurement; default: every row)",
    )
    args = parser.parse_args(argv)
    unknown = (args.only or set()) - set(ROW_NAMES)
    if unknown:
        parser.error(f"--only: unknown rows {', '.join(sorted(unknown))}")
    groups = len(GROUP_NAMES)
    if args.many_components % groups or args.many_components <= COMPONENT_COUNT:
        parser.error(
            f"--many-components: a multiple of {groups} above {COMPONENT_COUNT}, "
            f"not {args.many_components}"
        )
    host_port = re.search(r"@([\w.\-]+):(\d+)/", args.database_url_base)
    args.pg_host_port = (
        (host_port.group(1), int(host_port.group(2))) if host_port else ("127.0.0.1", 5432)
    )
    return args


def main() -> None:
    args = parse_args()
    if args.dry_run:
        dry_run(args)
        return
    # SIGTERM ends the run like Ctrl-C: through the blocks that stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    Benchmark(args).run()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
