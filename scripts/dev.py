"""Start the background worker and the development web server together; Ctrl-C stops both.

`make run` uses this, so one command gives a working site: pages from the web server, SLA
checks and email from the worker. In production they are separate processes (see
docs/operations.md). If either stops on its own, the other is stopped too and the exit code says
so.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
# After Ctrl-C the terminal has signalled the children too: give them this long on their own
# before signalling them ourselves (a second SIGINT would cut the worker's graceful stop short).
SETTLE_SECONDS = 2.0
STOP_SECONDS = 15.0


class _Stop(Exception):
    pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _site_url_configured(environment: dict[str, str]) -> bool:
    if environment.get("SITE_URL") or environment.get("STATUSPAGE_SITE_URL"):
        return True
    dotenv = ROOT / ".env"
    if not dotenv.exists():
        return False
    return any(
        line.strip().startswith(("SITE_URL=", "STATUSPAGE_SITE_URL="))
        for line in dotenv.read_text().splitlines()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the worker and the web server together.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)

    flask = [sys.executable, "-m", "flask", "--app", "app"]
    # Links in emails (confirmations, notifications) point at this server unless SITE_URL or
    # STATUSPAGE_SITE_URL says otherwise (in the environment or .env).
    environment = dict(os.environ)
    if not _site_url_configured(environment):
        environment["SITE_URL"] = f"http://{args.host}:{args.port}"
    commands = {
        "worker": [*flask, "worker"],
        "web server": [*flask, "run", "--host", args.host, "--port", str(args.port)],
    }
    children: dict[str, subprocess.Popen[bytes]] = {}
    settle = 0.0
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)  # `kill` stops both, as Ctrl-C does
    try:
        for name, command in commands.items():
            # Fixed commands run with this interpreter; nothing comes from outside.
            children[name] = subprocess.Popen(command, cwd=ROOT, env=environment)  # noqa: S603
        print(
            f"\n  Status page: http://{args.host}:{args.port}/"
            f"\n  Admin:       http://{args.host}:{args.port}/admin/"
            "\n  The worker and the web server are running; Ctrl-C stops both.\n",
            flush=True,
        )
        while True:
            for name, child in children.items():
                code = child.poll()
                if code is not None:
                    print(f"The {name} stopped (exit code {code}); stopping the rest.", flush=True)
                    return code or 1
            time.sleep(0.3)
    except _Stop:
        settle = SETTLE_SECONDS
        return 0
    finally:
        # A second Ctrl-C still reaches the children from the terminal; we keep waiting for them.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop(children.values(), settle)


def _stop(children: Iterable[subprocess.Popen[bytes]], settle: float) -> None:
    running = [child for child in children if child.poll() is None]
    _wait(running, settle)
    for sig, seconds in ((signal.SIGINT, STOP_SECONDS), (signal.SIGTERM, 5.0)):
        running = [child for child in running if child.poll() is None]
        for child in running:
            child.send_signal(sig)
        _wait(running, seconds)
    for child in running:
        if child.poll() is None:
            child.kill()
            child.wait()


def _wait(children: list[subprocess.Popen[bytes]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=max(0.0, deadline - time.monotonic()))


if __name__ == "__main__":
    sys.exit(main())
