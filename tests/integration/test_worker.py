"""The task queue for real: the worker process, the `make run` launcher, Redis storage."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from huey import RedisHuey, SqliteHuey

from statuspage import PROJECT_ROOT
from statuspage.core.db import Base
from statuspage.incidents.models import Level, Priority, SlaEvent, SlaPolicy, SlaState
from statuspage.incidents.operations import NewIncident, categorize_incident, open_incident
from statuspage.worker.queue import build_huey

STARTUP_SECONDS = 60  # a cold start compiles and imports everything


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_environment(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "STATUSPAGE_REDIS_URL", "HUEY_IMMEDIATE", "FLASK_DEBUG")
    }
    env.update(
        APP_ENV="testing",
        HUEY_SQLITE_PATH=str(tmp_path / "huey.sqlite3"),
        STATUSPAGE_MAIL_TRANSPORT="file",
        STATUSPAGE_MAIL_FILE_DIR=str(tmp_path / "mail"),
        SITE_URL="http://status.test",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


class Output:
    """Collects a child's output lines in a thread, so that it never blocks on a full pipe."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, needle: str, seconds: float) -> bool:
        return wait_until(lambda: needle in self.text, seconds)


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def started() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start processes in their own process group; whatever is left is killed afterwards."""
    processes: list[subprocess.Popen[str]] = []

    def start(command: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if not group_is_gone(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_the_worker_process_runs_a_queued_sla_check(
    database_url: str,
    session: Any,
    tmp_path: Path,
    now: datetime,
    started: Callable[..., subprocess.Popen[str]],
) -> None:
    policy = session.scalar(sa.select(SlaPolicy).where(SlaPolicy.priority == Priority.P1))
    policy.escalation_contacts = ["oncall@example.com"]
    detected = now - timedelta(minutes=61)
    incident = open_incident(
        session, NewIncident(title="Queue test", detected_at=detected), actor_id=None, now=detected
    )
    categorize_incident(
        session,
        incident,
        category_id=None,
        subcategory_id=None,
        impact=Level.HIGH,
        urgency=Level.HIGH,
        actor_id=None,
        now=detected,
    )
    session.commit()
    env = child_environment(tmp_path, DATABASE_URL=database_url)

    # Enqueue from another process, as the web app would, then let the worker take it.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from statuspage.worker.tasks import sla_check_task; sla_check_task()",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        timeout=STARTUP_SECONDS,
    )
    queue = SqliteHuey("statuspage", filename=env["HUEY_SQLITE_PATH"])
    assert queue.pending_count() == 1
    worker = started(
        [sys.executable, "-m", "flask", "--app", "app", "worker", "--no-periodic"], env
    )
    output = Output(worker)
    mail_dir = tmp_path / "mail"
    assert wait_until(lambda: any(mail_dir.glob("*.eml")), STARTUP_SECONDS), output.text
    assert queue.pending_count() == 0
    # WORKER_NICENESS's default: the worker and its task threads yield the CPU to web requests.
    assert niceness_of_threads(worker.pid) == {max(10, os.nice(0))}, output.text
    queue.storage.close()

    worker.send_signal(signal.SIGINT)  # Ctrl-C: finish what runs, then stop
    assert worker.wait(timeout=30) == 0, output.text
    assert output.wait_for("Consumer exiting", 5), output.text
    assert "Huey consumer started with 2 thread" in output.text
    assert "Periodic tasks are disabled" in output.text
    assert "oncall@example.com" not in output.text  # addresses stay out of the log

    session.expire_all()
    assert session.scalar(sa.select(SlaEvent.state)) == SlaState.BREACHED
    assert len(list(mail_dir.glob("*.eml"))) == 1


def niceness_of_threads(pid: int) -> set[int]:
    """The CPU niceness of every thread of a process (Linux keeps it per thread)."""
    return {
        os.getpriority(os.PRIO_PROCESS, int(task.name))
        for task in Path(f"/proc/{pid}/task").iterdir()
    }


def test_the_worker_runs_at_the_niceness_its_setting_names(
    tmp_path: Path, started: Callable[..., subprocess.Popen[str]]
) -> None:
    wanted = os.nice(0) + 3
    env = child_environment(
        tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'nice.sqlite3'}", WORKER_NICENESS=str(wanted)
    )
    worker = started(
        [sys.executable, "-m", "flask", "--app", "app", "worker", "--no-periodic"], env
    )
    output = Output(worker)
    assert output.wait_for("Huey consumer started", STARTUP_SECONDS), output.text
    assert f"Worker CPU niceness {wanted} (WORKER_NICENESS)" in output.text
    threads = niceness_of_threads(worker.pid)
    worker.send_signal(signal.SIGINT)
    assert worker.wait(timeout=30) == 0, output.text
    assert threads == {wanted}  # the consumer's threads were started after the change


@pytest.fixture
def dev_database(tmp_path: Path) -> str:
    """A small SQLite database with the tables, for the launcher's worker to find."""
    import statuspage.models  # noqa: F401  (every table)

    url = f"sqlite:///{tmp_path / 'dev.sqlite3'}"
    engine = sa.create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return url


def launch(
    started: Callable[..., subprocess.Popen[str]], env: dict[str, str], port: int
) -> tuple[subprocess.Popen[str], Output]:
    process = started([sys.executable, "scripts/dev.py", "--port", str(port)], env)
    return process, Output(process)


def test_the_launcher_starts_worker_and_web_server_and_ctrl_c_stops_both(
    tmp_path: Path, dev_database: str, started: Callable[..., subprocess.Popen[str]]
) -> None:
    port = free_port()
    env = child_environment(tmp_path, APP_ENV="development", DATABASE_URL=dev_database)
    launcher, output = launch(started, env, port)

    assert output.wait_for(f"Status page: http://127.0.0.1:{port}/", STARTUP_SECONDS)
    assert output.wait_for("Huey consumer started", STARTUP_SECONDS), output.text

    def serving() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    assert wait_until(serving, STARTUP_SECONDS), output.text

    os.killpg(launcher.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    assert launcher.wait(timeout=40) == 0, output.text
    assert wait_until(lambda: group_is_gone(launcher.pid), 10), "a child outlived the launcher"
    assert not serving()


def test_the_launcher_stops_the_worker_when_the_web_server_cannot_start(
    tmp_path: Path, dev_database: str, started: Callable[..., subprocess.Popen[str]]
) -> None:
    env = child_environment(tmp_path, APP_ENV="development", DATABASE_URL=dev_database)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        launcher, output = launch(started, env, taken.getsockname()[1])
        code = launcher.wait(timeout=STARTUP_SECONDS + 30)
    assert code != 0
    assert "The web server stopped" in output.text
    assert wait_until(lambda: group_is_gone(launcher.pid), 10), "the worker was left running"


# Where the queue lives


def test_the_queue_is_a_sqlite_file_by_default(tmp_path: Path) -> None:
    path = tmp_path / "queue" / "huey.sqlite3"
    queue = build_huey({"HUEY_SQLITE_PATH": str(path)})
    assert isinstance(queue, SqliteHuey) and not queue.immediate
    assert path.exists()
    prefixed = build_huey({"STATUSPAGE_HUEY_SQLITE_PATH": str(path)})
    assert prefixed.storage.filename == str(path)


def test_immediate_mode_keeps_the_queue_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "never.sqlite3"
    queue = build_huey({"HUEY_IMMEDIATE": "1", "HUEY_SQLITE_PATH": str(path)})
    assert queue.immediate
    assert not path.exists()


def test_redis_url_puts_the_queue_in_redis() -> None:
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis not reachable at {url}: {error}")
        pytest.skip(f"Redis not reachable at {url}: {error}")
    queue = build_huey({"REDIS_URL": url})
    assert isinstance(queue, RedisHuey)

    @queue.task()
    def add(a: int, b: int) -> int:
        return a + b

    queue.flush()
    try:
        result = add(2, 3)
        assert queue.pending_count() == 1
        queue.execute(queue.dequeue())
        assert result.get() == 5
    finally:
        queue.flush()
