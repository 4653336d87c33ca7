"""README, docs/operations.md and the benchmarks start gunicorn with the one settings file,
deploy/gunicorn.conf.py, and the Makefile's .PHONY names only targets it has."""

from __future__ import annotations

import os
import re
import runpy
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "gunicorn.conf.py"
CONF_ARGUMENT = "-c deploy/gunicorn.conf.py"
# Settings that belong in the file, not on a command line in the docs.
SETTING_FLAGS = re.compile(r"(?:^|\s)(?:-w|--workers|-k|--worker-class|--threads)(?:[\s=]|$)")


def gunicorn_commands(path: Path) -> list[str]:
    """Every gunicorn command the document shows: lines in code blocks, and inline code."""
    text = path.read_text()
    commands = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.DOTALL):
        commands += [
            line.strip() for line in block.splitlines() if line.strip().startswith("gunicorn ")
        ]
    outside = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    commands += re.findall(r"`(gunicorn [^`]+)`", outside)
    return commands


def load_conf(monkeypatch: pytest.MonkeyPatch) -> dict:
    for name in ("WEB_CONCURRENCY", "GUNICORN_BIND", "GUNICORN_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    return runpy.run_path(str(CONF))


def start_gunicorn(
    tmp_path: Path, module: str, app_source: str, env: dict[str, str]
) -> tuple[subprocess.Popen, int]:
    """gunicorn with the settings file, serving `app_source` (written as `module`.py) on a
    free loopback port; returns the master and the port."""
    (tmp_path / f"{module}.py").write_text(app_source)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    master = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(CONF), "--bind", f"127.0.0.1:{port}",
         "--chdir", str(tmp_path), f"{module}:app"],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    return master, port


def test_the_settings_file_has_sync_workers_two_per_core_plus_one(monkeypatch):
    conf = load_conf(monkeypatch)
    assert conf["worker_class"] == "sync"
    assert conf["workers"] == 2 * os.cpu_count() + 1
    assert conf["bind"] == "127.0.0.1:8000"
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert runpy.run_path(str(CONF))["workers"] == 3


@pytest.mark.parametrize("document", ["README.md", "docs/operations.md"])
def test_documents_start_gunicorn_with_the_settings_file(document):
    commands = gunicorn_commands(ROOT / document)
    assert commands, f"{document} shows no gunicorn command"
    for command in commands:
        assert CONF_ARGUMENT in command, f"{document}: {command!r} does not use {CONF_ARGUMENT}"
        assert not SETTING_FLAGS.search(command), f"{document}: {command!r} overrides a setting"


def test_operations_states_the_worker_count_the_file_sets():
    operations = (ROOT / "docs" / "operations.md").read_text()
    assert "2 x cores + 1" in operations
    assert "sync" in operations
    assert "2 x cores + 1" in CONF.read_text()


def test_the_benchmarks_start_gunicorn_with_the_settings_file():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import harness
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    command = harness.gunicorn_command("app:app", 8123)
    assert command[command.index("-c") + 1] == str(CONF)
    assert "--bind" in command and "127.0.0.1:8123" in command
    assert not SETTING_FLAGS.search(" ".join(command))
    # No benchmark of ours picks its own worker model (page_latency.py times one request at a
    # time and is checked by its own owner).
    for script in ("production.py", "load_publish.py", "harness.py"):
        text = (ROOT / "benchmarks" / script).read_text()
        assert "--worker-class" not in text and "gthread" not in text, script


def makefile_targets(text: str) -> tuple[list[str], set[str]]:
    phony: list[str] = []
    targets: set[str] = set()
    for line in text.splitlines():
        if line.startswith(".PHONY:"):
            phony += line.split(":", 1)[1].split()
        elif match := re.match(r"^([A-Za-z0-9_.$()/\-]+)\s*:(?!=)", line):
            targets.add(match.group(1))
    return phony, targets


def test_makefile_phony_names_only_existing_targets():
    phony, targets = makefile_targets((ROOT / "Makefile").read_text())
    assert phony, "the Makefile declares no .PHONY targets"
    missing = [name for name in phony if name not in targets]
    assert not missing, f".PHONY names targets the Makefile does not have: {missing}"
    assert "bench" in phony


def test_makefile_check_sees_a_missing_target():
    phony, targets = makefile_targets(".PHONY: run ghost\nrun: x\n\techo\nVAR := 1\n")
    assert phony == ["run", "ghost"]
    assert targets == {"run"}


def test_the_pool_runs_at_the_niceness_gunicorn_niceness_names(tmp_path):
    """GUNICORN_NICENESS is applied by the settings file's start-up hook, in the master before
    it forks: the master and every worker run at it."""
    wanted = os.getpriority(os.PRIO_PROCESS, 0) + 3
    master, _port = start_gunicorn(
        tmp_path,
        "tiny",
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'ok']\n",
        {"GUNICORN_NICENESS": str(wanted), "WEB_CONCURRENCY": "2"},
    )
    try:
        children: list[int] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(children) < 2:
            time.sleep(0.2)
            found = Path(f"/proc/{master.pid}/task/{master.pid}/children")
            children = [int(p) for p in found.read_text().split()] if found.exists() else []
        assert len(children) == 2
        for pid in (master.pid, *children):
            assert os.getpriority(os.PRIO_PROCESS, pid) == wanted
    finally:
        master.send_signal(signal.SIGTERM)
        output = master.communicate(timeout=30)[0]
    assert f"CPU niceness {wanted} (GUNICORN_NICENESS)" in output


def test_the_staff_pool_niceness_is_the_same_in_docs_nginx_and_benchmark():
    documented = {
        name: re.findall(r"GUNICORN_NICENESS=(-?\d+)", (ROOT / name).read_text())
        for name in ("docs/scaling.md", "deploy/nginx.conf")
    }
    assert set(documented["docs/scaling.md"]) == set(documented["deploy/nginx.conf"]) == {"-5"}
    bench = (ROOT / "benchmarks" / "production.py").read_text()
    assert re.search(r'"--staff-niceness", type=int, default=-5\b', bench)


def test_a_worker_freezes_its_heap_after_loading_and_again_after_warming_up(monkeypatch):
    """The settings file's hooks move long-lived objects out of the garbage collector's full
    passes: once when the worker has loaded the app, once after WARM_UP_REQUESTS requests,
    and not again."""
    import gc
    from types import SimpleNamespace

    conf = load_conf(monkeypatch)
    worker = SimpleNamespace()
    gc.unfreeze()
    try:
        conf["post_worker_init"](worker)
        after_load = gc.get_freeze_count()
        assert after_load > 0
        cached = [[n] for n in range(5_000)]  # what the first requests leave in caches
        for _ in range(conf["WARM_UP_REQUESTS"] - 1):
            conf["post_request"](worker, None, {}, None)
        # Frozen objects still die by reference count, so the count may only shrink meanwhile;
        # a freeze would have taken the 5,000 lists too.
        assert gc.get_freeze_count() < after_load + len(cached), "froze before warming up"
        conf["post_request"](worker, None, {}, None)
        warmed = gc.get_freeze_count()
        assert warmed >= after_load + len(cached)
        later = [[n] for n in range(5_000)]
        for _ in range(3 * conf["WARM_UP_REQUESTS"]):
            conf["post_request"](worker, None, {}, None)
        assert gc.get_freeze_count() < warmed + len(later), "froze again after warming up"
        assert later  # alive, and still in the collector's generations
    finally:
        gc.unfreeze()


def test_a_real_worker_serves_with_its_heap_frozen(tmp_path):
    """The hooks run in gunicorn itself: a worker's first request already finds the objects
    it loaded frozen, and more are frozen once it has warmed up."""
    import urllib.request

    conf = runpy.run_path(str(CONF))
    master, port = start_gunicorn(
        tmp_path,
        "heap",
        "import gc\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [str(gc.get_freeze_count()).encode()]\n",
        {"WEB_CONCURRENCY": "1", "GUNICORN_NICENESS": "0"},
    )

    def frozen() -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:  # noqa: S310 - loopback
            return int(answer.read())

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                first = frozen()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert first > 1_000
        counts = [frozen() for _ in range(conf["WARM_UP_REQUESTS"] + 1)]
        assert counts[-1] > first
    finally:
        master.send_signal(signal.SIGTERM)
        master.communicate(timeout=30)


def test_a_worker_renders_the_warm_up_pages_before_its_first_request(monkeypatch):
    """post_worker_init calls the view of each of WARM_UP_PATHS in the loaded app; an error is
    one warning line, and the worker goes on."""
    import gc
    from types import SimpleNamespace

    from flask import Flask

    conf = load_conf(monkeypatch)
    assert conf["WARM_UP_PATHS"] == ("/",)
    served: list[str] = []
    app = Flask("warm")

    @app.get("/")
    def front() -> str:
        served.append("/")
        return "front"

    warnings: list[str] = []
    log = SimpleNamespace(warning=lambda text, *args: warnings.append(text % args))
    try:
        conf["post_worker_init"](SimpleNamespace(wsgi=app, log=log))
        assert served == ["/"] and warnings == []

        broken = Flask("broken")

        @broken.get("/")
        def fails() -> str:
            raise RuntimeError("no database yet")

        conf["post_worker_init"](SimpleNamespace(wsgi=broken, log=log))
        assert warnings == ["Warm-up of / failed: RuntimeError"]
        conf["post_worker_init"](SimpleNamespace(wsgi=Flask("empty"), log=log))
        assert warnings[-1] == "Warm-up of / failed: LookupError"
    finally:
        gc.unfreeze()
