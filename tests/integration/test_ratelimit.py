"""The rate limiter (statuspage.core.ratelimit, over the `limits` library), on both backends:
this process's memory, and Redis on 127.0.0.1:6379.

The library keeps its own clock (Redis's, for the Redis storage), so the tests that watch the
window slide use short windows and real time. Redis tests use a key prefix of their own and
delete their keys afterwards. Where no Redis answers they are skipped with the reason, except
under CI (CI=true), where that fails.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from statuspage.core.ratelimit import (
    MemoryRateLimiter,
    RedisRateLimiter,
    limiter_from_config,
)

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Long enough that no test crosses into the next window while it runs.
LONG = 86_400


def redis_client() -> Any:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        message = f"Redis not reachable at {REDIS_URL}: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI requires Redis)")
        pytest.skip(message)
    return client


@pytest.fixture
def redis_prefix() -> Iterator[tuple[Any, str]]:
    client = redis_client()
    prefix = f"test:ratelimit:{secrets.token_hex(6)}:"
    yield client, prefix
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return MemoryRateLimiter()
    client, prefix = request.getfixturevalue("redis_prefix")
    return RedisRateLimiter(client, prefix=prefix)


def hits(limiter: Any, key: str, count: int, *, limit: int = 3, window: int = LONG) -> list[bool]:
    return [limiter.hit(key, limit, window) for _ in range(count)]


def start_of_a_window(window: int) -> float:
    """Sleep until just after a multiple of `window` seconds (where the memory storage starts
    its windows; Redis starts them at a key's first hit, which follows at once)."""
    now = time.time()
    time.sleep(window - now % window + 0.02)
    return time.time()


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def within(start: float, earliest: float, latest: float) -> bool:
    """Whether it is still between `earliest` and `latest` seconds after `start`: on a busy
    machine a sleep may overrun, and a check made at the wrong moment proves nothing."""
    return earliest <= time.time() - start <= latest


# Tries at the timed tests before giving up on a machine too busy to keep time.
ATTEMPTS = 3


def test_allows_up_to_the_limit_then_refuses(limiter: Any) -> None:
    assert hits(limiter, "ip:1", 5) == [True, True, True, False, False]


def test_keys_are_counted_apart(limiter: Any) -> None:
    assert hits(limiter, "ip:1", 4) == [True, True, True, False]
    assert hits(limiter, "ip:2", 1) == [True]
    # The same key with another window is another limit.
    assert limiter.hit("ip:1", 3, LONG * 2) is True


def test_the_window_slides(limiter: Any) -> None:
    window = 2
    for attempt in range(ATTEMPTS):
        key = f"slide:{attempt}"
        start = start_of_a_window(window)
        assert hits(limiter, key, 11, limit=10, window=window) == [True] * 10 + [False]
        if not within(start, 0, 0.5 * window):
            continue  # too slow to stay inside the first window: try again
        # Halfway through the next window about half of the previous one still counts: a
        # fixed window would let all ten in again, a window twice as long none.
        sleep_until(start + 1.5 * window)
        allowed = sum(hits(limiter, key, 10, limit=10, window=window))
        if not within(start, 1.2 * window, 1.8 * window):
            continue
        assert 1 <= allowed <= 9, allowed
        # Long after, everything is forgotten.
        sleep_until(start + 3.3 * window)
        assert hits(limiter, key, 10, limit=10, window=window) == [True] * 10
        return
    pytest.fail(f"the machine never kept to the test's timing in {ATTEMPTS} attempts")


def test_refused_attempts_are_not_counted(limiter: Any) -> None:
    window = 1
    for attempt in range(ATTEMPTS):
        key = f"refused:{attempt}"
        start = start_of_a_window(window)
        assert hits(limiter, key, 2, limit=2, window=window) == [True, True]
        assert hits(limiter, key, 50, limit=2, window=window) == [False] * 50
        if not within(start, 0, 0.9 * window):
            continue  # too slow to stay inside the first window: try again
        # Anywhere in the next window the two allowed ones count at most 2 * weight < 2, so
        # at least one is allowed again; had the 52 attempts all counted, none would be.
        sleep_until(start + 1.5 * window)
        allowed = hits(limiter, key, 1, limit=2, window=window)
        if not within(start, 1.05 * window, 1.95 * window):
            continue
        assert allowed == [True]
        return
    pytest.fail(f"the machine never kept to the test's timing in {ATTEMPTS} attempts")


def test_a_limit_of_zero_refuses_everything(limiter: Any) -> None:
    assert hits(limiter, "k", 2, limit=0) == [False, False]


def test_bad_arguments_are_refused(limiter: Any) -> None:
    with pytest.raises(ValueError):
        limiter.hit("k", 1, 0)
    with pytest.raises(ValueError):
        limiter.hit("k", -1, 10)


def test_concurrent_hits_never_exceed_the_limit(limiter: Any) -> None:
    allowed: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        for _ in range(10):
            result = limiter.hit("busy", 25, LONG)
            with lock:
                allowed.append(result)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(allowed) == 80
    assert sum(allowed) == 25


def test_redis_counts_are_shared_between_processes(redis_prefix: tuple[Any, str]) -> None:
    """Two limiters with their own connections, as two web processes would have."""
    import redis

    _, prefix = redis_prefix
    first = RedisRateLimiter(redis.Redis.from_url(REDIS_URL), prefix=prefix)
    second = RedisRateLimiter(redis.Redis.from_url(REDIS_URL), prefix=prefix)
    assert hits(first, "ip:9", 2) == [True, True]
    assert hits(second, "ip:9", 2) == [True, False]
    assert hits(first, "ip:9", 1) == [False]
    # The counters expire on their own: nothing is left behind for ever.
    ttls = [first.client.ttl(key) for key in first.client.scan_iter(match=prefix + "*")]
    assert ttls and all(0 < ttl <= 2 * LONG for ttl in ttls)
    first.client.close()
    second.client.close()


def test_memory_counts_are_per_process() -> None:
    first, second = MemoryRateLimiter(), MemoryRateLimiter()
    assert hits(first, "ip:9", 4) == [True, True, True, False]
    assert hits(second, "ip:9", 1) == [True]


def test_memory_forgets_stale_keys() -> None:
    limiter = MemoryRateLimiter()
    for n in range(100):
        limiter.hit(f"old:{n}", 5, 1)
    # A counter lives two windows (it is the "previous" one in the second).
    time.sleep(2.2)
    limiter.hit("new", 5, 1)  # the library sweeps expired counters shortly after a hit
    deadline = time.time() + 5
    while time.time() < deadline and any("old:" in key for key in limiter.storage.storage):
        time.sleep(0.05)
    assert [key for key in limiter.storage.storage if "old:" in key] == []
    assert any("new" in key for key in limiter.storage.storage)


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("fail_open", [True, False])
def test_an_unreachable_redis_fails_open_or_closed_as_told(
    fail_open: bool, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = RedisRateLimiter.from_url(f"redis://127.0.0.1:{unused_port()}/0", fail_open=fail_open)
    assert limiter.hit("k", 5, LONG) is fail_open
    assert "Rate limit store unavailable" in caplog.text


def test_the_backend_follows_the_settings() -> None:
    assert isinstance(limiter_from_config({}), MemoryRateLimiter)
    from_redis = limiter_from_config({"REDIS_URL": REDIS_URL, "RATELIMIT_PREFIX": "p:"})
    assert isinstance(from_redis, RedisRateLimiter)
    assert from_redis.prefix == "p:"
    forced = limiter_from_config({"REDIS_URL": REDIS_URL, "RATELIMIT_STORAGE": "memory"})
    assert isinstance(forced, MemoryRateLimiter)


def test_redis_keys_carry_the_configured_prefix(redis_prefix: tuple[Any, str]) -> None:
    client, prefix = redis_prefix
    limiter = RedisRateLimiter(client, prefix=prefix)
    assert limiter.hit("login:ip:192.0.2.1", 3, LONG)
    keys = [key.decode() for key in client.scan_iter(match=prefix + "*")]
    assert keys and all(key.startswith(prefix) and "::" not in key for key in keys)
    assert any("login:ip:192.0.2.1" in key for key in keys)
