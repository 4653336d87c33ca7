"""The rate limiter, on both backends: this process's memory, and Redis on 127.0.0.1:6379.

Redis tests use a key prefix of their own and delete their keys afterwards. Where no Redis
answers they are skipped with the reason, except under CI (CI=true), where that fails.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from statuspage.ratelimit import (
    MemoryRateLimiter,
    RedisRateLimiter,
    limiter_from_config,
)

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WINDOW = 60
# The start of a window, so that the sliding arithmetic below reads simply.
T0 = 10_000 * WINDOW


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


def hits(limiter: Any, key: str, count: int, *, limit: int = 3, at: float = T0) -> list[bool]:
    return [limiter.hit(key, limit, WINDOW, now=at) for _ in range(count)]


def test_allows_up_to_the_limit_then_refuses(limiter: Any) -> None:
    assert hits(limiter, "ip:1", 5) == [True, True, True, False, False]


def test_keys_are_counted_apart(limiter: Any) -> None:
    assert hits(limiter, "ip:1", 4) == [True, True, True, False]
    assert hits(limiter, "ip:2", 1) == [True]
    # The same key with another window is another limit.
    assert limiter.hit("ip:1", 3, WINDOW * 2, now=T0) is True


def test_the_window_slides(limiter: Any) -> None:
    assert hits(limiter, "k", 4, limit=4) == [True] * 4
    assert hits(limiter, "k", 1, limit=4, at=T0 + 30) == [False]
    # At the next window's start the previous window still counts in full...
    assert hits(limiter, "k", 1, limit=4, at=T0 + WINDOW) == [False]
    # ...and half of it halfway through: 4 * 0.5 = 2 used, 2 left.
    assert hits(limiter, "k", 3, limit=4, at=T0 + 1.5 * WINDOW) == [True, True, False]
    # Two windows on, only the 2 of the window before count.
    assert hits(limiter, "k", 3, limit=4, at=T0 + 2 * WINDOW) == [True, True, False]
    # Long after, everything is forgotten.
    assert hits(limiter, "k", 4, limit=4, at=T0 + 10 * WINDOW) == [True] * 4


def test_refused_attempts_are_not_counted(limiter: Any) -> None:
    assert hits(limiter, "k", 2, limit=2) == [True, True]
    assert hits(limiter, "k", 50, limit=2, at=T0 + 59) == [False] * 50
    # Had the refusals counted, the next window would start full.
    assert hits(limiter, "k", 2, limit=2, at=T0 + 2 * WINDOW) == [True, True]


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
            result = limiter.hit("busy", 25, WINDOW, now=T0)
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
    assert ttls and all(0 < ttl <= 2 * WINDOW + 1 for ttl in ttls)
    first.client.close()
    second.client.close()


def test_memory_counts_are_per_process() -> None:
    first, second = MemoryRateLimiter(), MemoryRateLimiter()
    assert hits(first, "ip:9", 4) == [True, True, True, False]
    assert hits(second, "ip:9", 1) == [True]


def test_memory_forgets_stale_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    limiter = MemoryRateLimiter()
    monkeypatch.setattr(limiter, "SWEEP_AT", 100)
    monkeypatch.setattr(limiter, "_sweep_at", 100)
    for n in range(101):
        limiter.hit(f"old:{n}", 5, WINDOW, now=T0)
    # Swept at 101 keys, all live: the next sweep waits until the table doubles.
    assert len(limiter._counters) == 101
    for n in range(102):
        limiter.hit(f"new:{n}", 5, WINDOW, now=T0 + 5 * WINDOW)
    keys = {key for key, _ in limiter._counters}
    assert not any(key.startswith("old:") for key in keys)
    assert len(keys) == 102


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("fail_open", [True, False])
def test_an_unreachable_redis_fails_open_or_closed_as_told(
    fail_open: bool, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = RedisRateLimiter.from_url(f"redis://127.0.0.1:{unused_port()}/0", fail_open=fail_open)
    assert limiter.hit("k", 5, WINDOW) is fail_open
    assert "Rate limit store unavailable" in caplog.text


def test_the_backend_follows_the_settings() -> None:
    assert isinstance(limiter_from_config({}), MemoryRateLimiter)
    from_redis = limiter_from_config({"REDIS_URL": REDIS_URL, "RATELIMIT_PREFIX": "p:"})
    assert isinstance(from_redis, RedisRateLimiter)
    assert from_redis.prefix == "p:"
    forced = limiter_from_config({"REDIS_URL": REDIS_URL, "RATELIMIT_STORAGE": "memory"})
    assert isinstance(forced, MemoryRateLimiter)
