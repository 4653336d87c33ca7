"""The pieces of benchmarks/production.py, quickly: the nginx configuration it derives from the
documented one, the baseline app's bytes, the database that stops answering, the counting.
The benchmark itself runs for minutes and is not run here."""

from __future__ import annotations

import importlib
import json
import runpy
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def production():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        yield importlib.import_module("production")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_nginx_configuration_is_the_documented_one_on_this_runs_ports(production, tmp_path):
    template, source = production.documented_nginx()
    assert source in ("deploy/nginx.conf", "the nginx block of docs/operations.md")
    site = production.rewrite_nginx(
        template,
        listen=18080,
        snapshot_root=tmp_path / "snapshot" / "current",
        cache_dir=tmp_path / "cache",
        ports={},
    )
    assert "listen 127.0.0.1:18080;" in site.text
    assert site.pools, "no gunicorn pool found in the upstreams"
    for _, port in site.pools:
        assert f"server 127.0.0.1:{port}" in site.text
    assert "127.0.0.1:8000" not in site.text
    assert "/srv/" not in site.text
    assert f"root {tmp_path / 'snapshot' / 'current'};" in site.text
    # Everything else is the documented text: its locations are all still there.
    assert site.text.count("location") == template.count("location")


def test_rewriting_keeps_separate_pools_and_drops_tls(production, tmp_path):
    template = """
upstream public { server 127.0.0.1:8000; keepalive 16; }
upstream staff { server 127.0.0.1:8001; }
proxy_cache_path /var/cache/nginx/status levels=1 keys_zone=status:1m;
server {
    listen 80;
    listen 443 ssl;
    ssl_certificate /etc/ssl/site.pem;
    location / { proxy_pass http://public; }
    location /admin/ { proxy_pass http://staff; }
    location @snapshot { root /srv/statuspage/snapshot/current; }
}
"""
    site = production.rewrite_nginx(
        template, listen=19000, snapshot_root=tmp_path / "s", cache_dir=tmp_path / "c", ports={}
    )
    assert [name for name, _ in site.pools] == ["public", "staff"]
    assert site.pools[0][1] != site.pools[1][1]
    assert "443" not in site.text and "ssl_certificate" not in site.text
    assert f"proxy_cache_path {tmp_path / 'c'} levels" in site.text
    assert "listen 127.0.0.1:19000;" in site.text


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_accepts_the_generated_configuration(production, tmp_path):
    template, _ = production.documented_nginx()
    (tmp_path / "snapshot" / "current").mkdir(parents=True)
    site = production.rewrite_nginx(
        template,
        listen=18081,
        snapshot_root=tmp_path / "snapshot" / "current",
        cache_dir=tmp_path / "cache",
        ports={},
    )
    body = tmp_path / "page.body"
    body.write_bytes(b"<p>hello</p>")
    headers = {"Content-Type": "text/html; charset=utf-8", "ETag": '"v1-abc"', "Vary": "Accept"}
    baseline = production.file_server(18082, body, headers)
    conf = tmp_path / "nginx.conf"
    conf.write_text(production.nginx_main_config(tmp_path, site.text, baseline=baseline))
    checked = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr


def test_the_baseline_app_replays_the_same_bytes_and_headers(production, tmp_path, monkeypatch):
    body = b"\x1f\x8b compressed page bytes \x00\xff"
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Encoding": "gzip",
        "Vary": "Accept-Encoding",
        "ETag": '"v42"',
    }
    (tmp_path / "body").write_bytes(body)
    (tmp_path / "headers.json").write_text(json.dumps(headers))
    (tmp_path / "minimal_app.py").write_text(production.MINIMAL_APP)
    monkeypatch.setenv("BENCH_BODY", str(tmp_path / "body"))
    monkeypatch.setenv("BENCH_HEADERS", str(tmp_path / "headers.json"))
    app = runpy.run_path(str(tmp_path / "minimal_app.py"))["app"]
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert response.get_data() == body
    for name, value in headers.items():
        assert response.headers[name] == value


def echo_server() -> tuple[socket.socket, int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(1024):
                    conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def test_the_database_relay_forwards_then_hangs_then_refuses(production):
    server, port = echo_server()
    relay = production.DatabaseRelay("127.0.0.1", port)
    try:
        with socket.create_connection(("127.0.0.1", relay.port), timeout=2) as conn:
            conn.sendall(b"ping")
            assert conn.recv(16) == b"ping"
            relay.hang()
            conn.settimeout(0.3)
            conn.sendall(b"again")
            with pytest.raises(TimeoutError):
                conn.recv(16)  # an open connection never gets its answer
        with socket.create_connection(("127.0.0.1", relay.port), timeout=2) as fresh:
            fresh.settimeout(0.3)
            fresh.sendall(b"hello")
            with pytest.raises(TimeoutError):
                fresh.recv(16)  # a new one connects, and hears nothing
        relay.go()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", relay.port), timeout=2)
    finally:
        server.close()


def test_dom_elements_count_every_element_once(production):
    tags = production.dom_elements(
        b"<html><body><ul><li>a</li><li>b<br></li></ul><img/></body></html>"
    )
    assert sum(tags.values()) == 7
    assert tags["li"] == 2


def test_quick_mode_is_shorter_and_the_dry_run_starts_nothing(production, capsys):
    assert production.QUICK.seconds < production.FULL.seconds
    assert production.QUICK.rounds >= 2  # taking turns needs at least two rounds
    production.dry_run(production.parse_args(["--dry-run"]))
    out = capsys.readouterr().out
    assert "-c " + str(ROOT / "deploy" / "gunicorn.conf.py") in out
    assert "flask --app app worker" in out
    assert "upstream" in out


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_the_baseline_file_server_sends_the_same_bytes(production):
    import harness

    # nginx's workers run as nobody when the tests run as root: a directory they can read.
    tmp_path = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    tmp_path.chmod(0o755)
    try:
        serve_the_file(production, harness, tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def serve_the_file(production, harness, tmp_path: Path) -> None:
    body = tmp_path / "page.body"
    body.write_bytes(b"\x1f\x8b precompressed \x00")
    body.chmod(0o644)
    port = harness.free_port()
    headers = {"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"}
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        production.nginx_main_config(
            tmp_path, "", baseline=production.file_server(port, body, headers)
        )
    )
    command = [
        shutil.which("nginx"),
        "-p",
        str(tmp_path),
        "-c",
        str(conf),
        "-e",
        str(tmp_path / "error.log"),
    ]
    with harness.process(
        command, name="nginx", env={}, cwd=tmp_path, log=tmp_path / "nginx.log"
    ) as child:
        for _ in range(50):
            try:
                answer = harness.request(port, "GET", "/", headers={"Accept-Encoding": "gzip"})
                break
            except OSError:
                assert child.poll() is None, (tmp_path / "error.log").read_text()
                time.sleep(0.1)
        else:
            pytest.fail("nginx did not answer")
    assert answer.status == 200
    assert answer.body == body.read_bytes()
    assert answer.header("Content-Encoding") == "gzip"
    assert answer.header("Content-Type").startswith("text/html")


def test_small_ratios_keep_their_digits(production):
    assert production.ratio_text(0.9412) == "0.94"
    assert production.ratio_text(0.00107) == "0.0011"


def test_only_names_the_rows_to_measure_and_refuses_unknown_ones(production, capsys):
    every = production.parse_args([])
    assert every.only is None
    assert all(production.wanted(every, row) for row in production.ROW_NAMES)
    assert production.parse_args(["--only", "miss,fresh"]).only == {"miss", "fresh"}
    components = production.parse_args(["--only", "components"])
    assert components.only == {"components"}
    assert [row for row in production.ROW_NAMES if production.wanted(components, row)] == [
        "components"
    ]
    with pytest.raises(SystemExit):
        production.parse_args(["--only", "miss,speed"])
    assert "unknown rows speed" in capsys.readouterr().err


def test_the_help_names_every_row(production, capsys):
    with pytest.raises(SystemExit):
        production.parse_args(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert all(row in help_text for row in production.ROW_NAMES)
    assert "components" in production.ROW_NAMES


def test_the_components_row_asks_for_more_components_in_whole_groups(production, capsys):
    assert production.parse_args([]).many_components == 200
    assert production.parse_args(["--many-components", "100"]).many_components == 100
    for wrong in ("201", "50"):
        with pytest.raises(SystemExit):
            production.parse_args(["--many-components", wrong])
        assert f"not {wrong}" in capsys.readouterr().err


def test_kept_databases_differ_by_component_count(production):
    assert production.database_name(100_000, 50) != production.database_name(100_000, 200)
    assert production.seed_tag(100_000, 50) != production.seed_tag(100_000, 200)
    assert production.seed_tag(100_000, 200).endswith("incidents=100000 components=200")


def test_the_components_row_states_the_growth_per_added_component(production):
    seconds = {200: [0.130, 0.120, 0.125, 0.300], 50: [0.050, 0.055, 0.045, 0.060]}
    result, baseline = production.component_growth(seconds, {200: 160_000, 50: 40_000})
    # Medians 127.5 and 52.5 ms: 75 ms more for 150 more components, 120,000 more bytes.
    assert result.startswith("**127.5 ms**, ratio **2.43**, **+0.50 ms** and +800 B per added")
    assert "200: median 127.5 ms, p95 300.0 ms; 160,000 B uncompressed (800 B per component)" in (
        result
    )
    assert (
        baseline == "50: median 52.5 ms, p95 60.0 ms; 40,000 B uncompressed (800 B per component)"
    )


def test_the_documented_kernel_settings_are_the_ones_the_benchmark_applies(production, capsys):
    """docs/operations.md tells how to install deploy/sysctl.d/60-statuspage.conf, names each
    of its settings, and the benchmark reads that very file."""
    import harness

    settings = harness.kernel_settings()
    assert settings == {"kernel.sched_autogroup_enabled": "0"}
    operations = (ROOT / "docs" / "operations.md").read_text()
    assert "cp deploy/sysctl.d/60-statuspage.conf /etc/sysctl.d/" in operations
    for key, value in settings.items():
        assert f"`{key} = {value}`" in operations
    production.dry_run(production.parse_args(["--dry-run"]))
    assert "kernel.sched_autogroup_enabled = 0" in capsys.readouterr().out


def test_kernel_settings_apply_for_the_run_and_are_put_back(production, tmp_path):
    """A setting that differs is written and restored when the run's stack closes; one already
    right is left alone; one the run may not write, or the kernel lacks, is reported, not
    hidden."""
    import contextlib

    import harness

    conf = tmp_path / "60-test.conf"
    conf.write_text(
        "# comment\n\nkernel.sched_autogroup_enabled = 0\n; other comment\n"
        "vm.swappiness=10\nkernel.locked = 1\nkernel.absent = 2\n"
    )
    settings = harness.kernel_settings(conf)
    assert settings == {
        "kernel.sched_autogroup_enabled": "0", "vm.swappiness": "10", "kernel.locked": "1",
        "kernel.absent": "2",
    }  # fmt: skip
    proc = tmp_path / "proc"
    (proc / "kernel").mkdir(parents=True)
    (proc / "vm").mkdir()
    (proc / "kernel" / "sched_autogroup_enabled").write_text("1\n")
    (proc / "vm" / "swappiness").write_text("10\n")
    (proc / "kernel" / "locked").mkdir()  # reads and writes fail, as without the right
    with contextlib.ExitStack() as stack:
        lines = harness.apply_kernel_settings(stack, settings, proc_sys=proc)
        assert (proc / "kernel" / "sched_autogroup_enabled").read_text() == "0"
    assert (proc / "kernel" / "sched_autogroup_enabled").read_text() == "1"
    assert (proc / "vm" / "swappiness").read_text() == "10\n"
    assert lines[0] == "kernel.sched_autogroup_enabled = 0 (was 1; put back after the run)"
    assert lines[1] == "vm.swappiness = 10"
    assert lines[2].startswith("kernel.locked: not on this kernel")
    assert lines[3].startswith("kernel.absent: not on this kernel")


def test_a_kernel_setting_the_run_may_not_write_is_reported(production):
    """/proc/sys/kernel/osrelease can be read by anyone and written by no one, root included."""
    import contextlib
    import platform

    import harness

    with contextlib.ExitStack() as stack:
        lines = harness.apply_kernel_settings(stack, {"kernel.osrelease": "9.9"})
    release = platform.release()
    assert lines == [f"**kernel.osrelease = {release}, not the documented 9.9** (needs root)"]
