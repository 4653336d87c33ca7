"""gunicorn settings for production: `gunicorn -c deploy/gunicorn.conf.py app:app`.

The one place these settings live: README, docs/operations.md and the benchmarks
(`benchmarks/production.py`, `benchmarks/load_publish.py`) all start gunicorn with this file.
Command-line options given after `-c` win, so `--bind` can be changed per machine.
"""

import gc
import multiprocessing
import os

# Behind nginx on the same machine; nginx buffers slow clients, so sync workers never wait on
# a reader's network.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Sync workers, 2 x cores + 1: each worker handles one request at a time, and the page work is
# CPU (rendering) or short database round trips. WEB_CONCURRENCY overrides the count.
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count() + 1))

# A request still running after this many seconds has its worker restarted.
timeout = 30
graceful_timeout = 30

# Logs to standard error; the access log is nginx's.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

# CPU priority of the pool, as a niceness (-20 to 19; default 0). The staff pool runs at -5, so
# that a publish during a spike of readers gets the CPU before the readers' renders do;
# lowering a niceness needs root (systemd's `Nice=` does the same for a unit). Set in the
# master before it forks, so every worker has it.
NICENESS = int(os.environ.get("GUNICORN_NICENESS", "0"))


def on_starting(server):  # noqa: ANN001, ANN201 - gunicorn's hook signature
    if NICENESS:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, NICENESS)
        except PermissionError:
            server.log.warning(
                "GUNICORN_NICENESS=%d needs root (or CAP_SYS_NICE); the pool keeps niceness %d",
                NICENESS,
                os.getpriority(os.PRIO_PROCESS, 0),
            )
        else:
            server.log.info("CPU niceness %d (GUNICORN_NICENESS)", NICENESS)


# Warming up. A worker's first render of the front page compiles its templates and SQL and
# loads the catalogs: about 300 ms against 40 ms for the next ones (benchmark machine, 50
# components). Each worker calls the view of each of WARM_UP_PATHS once, in a request context
# of its own, before it takes a request; the page is neither sent nor cached. A failure (the
# database not there yet) is logged in one line and the worker starts anyway.
WARM_UP_PATHS = ("/",)

# The garbage collector. A worker holds about 200,000 objects once the app is loaded, and
# 35,000 more after its first requests have filled lazy caches (compiled templates and SQL,
# translation catalogs). CPython's full collection walks all of them, 80 to 110 ms on the
# benchmark machine, inside whichever request tips the count: under load that request was a
# publish three times in 150. `gc.freeze()` moves the objects alive at that moment out of
# every later collection: once when the worker has loaded the app and warmed up, and once more
# after its first WARM_UP_REQUESTS requests. A full collection then walks only what requests
# leave behind (under 1 ms). What was frozen is never collected; each freeze follows a
# `gc.collect()`, so only objects still alive at that moment stay for good.
WARM_UP_REQUESTS = 50


def _settle_heap() -> None:
    gc.collect()
    gc.freeze()


def _warm_up(worker) -> None:  # noqa: ANN001 - a gunicorn worker
    app = getattr(worker, "wsgi", None)
    if not hasattr(app, "test_request_context"):  # not a Flask app: nothing to warm
        return
    from flask import request

    for path in WARM_UP_PATHS:
        try:
            with app.test_request_context(path):
                if request.url_rule is None:
                    raise LookupError("no such page")
                app.view_functions[request.url_rule.endpoint](**(request.view_args or {}))
        except Exception as error:  # noqa: BLE001 - a warm-up never stops a worker
            worker.log.warning("Warm-up of %s failed: %s", path, type(error).__name__)


def post_worker_init(worker):  # noqa: ANN001, ANN201 - gunicorn's hook signature
    _warm_up(worker)
    _settle_heap()
    worker.requests_until_settled = WARM_UP_REQUESTS


def post_request(worker, req, environ, resp):  # noqa: ANN001, ANN201 - gunicorn's hook signature
    # After the response is written: the collection delays only the worker's next request.
    left = getattr(worker, "requests_until_settled", 0)
    if left > 0:
        worker.requests_until_settled = left - 1
        if left == 1:
            _settle_heap()
