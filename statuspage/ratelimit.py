"""Rate limits: how often one key (an IP address, a subscriber) may do something.

A sliding-window counter: the count of the current fixed window plus the previous window's
count weighted by how much of it still lies inside the sliding window. It needs two counters
per key, never refuses more than a true sliding window would by much, and has no burst of
twice the limit at a window edge as a plain fixed window has. A refused attempt is not
counted, so a client that keeps trying is let in again as the window slides on.

Two backends, same API (`hit(key, limit, window_seconds) -> bool`, True when allowed):

- `RedisRateLimiter`: counters in Redis, shared by every process and machine. One Lua script
  per hit, so the check and the increment are atomic. If Redis does not answer, the limiter
  lets the attempt through and logs a warning (`fail_open=True`, the default: a rate limit is
  not worth refusing a subscriber over), or refuses it (`fail_open=False`: for limits that
  protect something, such as logins).
- `MemoryRateLimiter`: counters in this process, behind a lock. Each web process counts on
  its own, so with N processes a client may get up to N times the limit: fine for the embedded
  single-process setup, use Redis beyond it.

`limiter_from_config(config)` picks Redis when `REDIS_URL` is set (`RATELIMIT_STORAGE=memory`
forces memory). Flask-free: the worker, the CLI and the web views may all use it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "statuspage:ratelimit:"


class RateLimiter(Protocol):
    def hit(
        self, key: str, limit: int, window_seconds: int, *, now: float | None = None
    ) -> bool: ...


def _window(now: float, window_seconds: int) -> tuple[int, float]:
    """The index of the fixed window `now` falls in, and the share of the previous window
    that still lies inside the sliding window ending at `now`."""
    index = math.floor(now / window_seconds)
    elapsed = now - index * window_seconds
    return index, 1.0 - elapsed / window_seconds


def _check(limit: int, window_seconds: int) -> None:
    if window_seconds <= 0:
        raise ValueError("window_seconds must be positive")
    if limit < 0:
        raise ValueError("limit must not be negative")


class MemoryRateLimiter:
    """Counters in this process only (see the module docstring)."""

    # Stale keys are swept once the table holds this many, so it cannot grow without bound.
    SWEEP_AT = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # key -> (window index, count in that window, count in the window before it)
        self._counters: dict[tuple[str, int], tuple[int, int, int]] = {}
        self._sweep_at = self.SWEEP_AT

    def hit(self, key: str, limit: int, window_seconds: int, *, now: float | None = None) -> bool:
        _check(limit, window_seconds)
        moment = time.time() if now is None else now
        index, weight = _window(moment, window_seconds)
        slot = (key, window_seconds)
        with self._lock:
            current, previous = self._counts(slot, index)
            if previous * weight + current >= limit:
                return False
            self._counters[slot] = (index, current + 1, previous)
            if len(self._counters) > self._sweep_at:
                self._sweep(moment)
                # Live keys stay; sweep again only once the table has doubled.
                self._sweep_at = max(self.SWEEP_AT, 2 * len(self._counters))
            return True

    def _counts(self, slot: tuple[str, int], index: int) -> tuple[int, int]:
        stored = self._counters.get(slot)
        if stored is None:
            return 0, 0
        stored_index, current, previous = stored
        if stored_index == index:
            return current, previous
        if stored_index == index - 1:
            return 0, current
        return 0, 0

    def _sweep(self, now: float) -> None:
        for (key, window_seconds), (index, _, _) in list(self._counters.items()):
            if index < math.floor(now / window_seconds) - 1:
                del self._counters[(key, window_seconds)]

    def reset(self) -> None:
        with self._lock:
            self._counters.clear()


# KEYS: current window's counter, previous window's counter.
# ARGV: weight of the previous window, limit, expiry of the current counter in seconds.
# Returns 1 when allowed (and counted), 0 when refused (not counted).
_SLIDING_WINDOW_SCRIPT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if previous * tonumber(ARGV[1]) + current >= tonumber(ARGV[2]) then
  return 0
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


class RedisRateLimiter:
    """Counters in Redis, shared across processes (see the module docstring)."""

    def __init__(self, client: Any, *, prefix: str = DEFAULT_PREFIX, fail_open: bool = True):
        self.client = client
        self.prefix = prefix
        self.fail_open = fail_open
        self._script = client.register_script(_SLIDING_WINDOW_SCRIPT)

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = DEFAULT_PREFIX, fail_open: bool = True
    ) -> RedisRateLimiter:
        import redis

        # Short timeouts: a rate limit must never hold a request up for long.
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return cls(client, prefix=prefix, fail_open=fail_open)

    def hit(self, key: str, limit: int, window_seconds: int, *, now: float | None = None) -> bool:
        import redis

        _check(limit, window_seconds)
        moment = time.time() if now is None else now
        index, weight = _window(moment, window_seconds)
        base = f"{self.prefix}{key}:{window_seconds}:"
        try:
            allowed = self._script(
                keys=[f"{base}{index}", f"{base}{index - 1}"],
                # The counter must outlive its own window and the next one, where it is the
                # "previous" count.
                args=[repr(weight), limit, 2 * window_seconds + 1],
            )
        except redis.RedisError as error:
            logger.warning(
                "Rate limit store unavailable (%s); %s the attempt",
                error.__class__.__name__,
                "allowing" if self.fail_open else "refusing",
            )
            return self.fail_open
        return bool(allowed)


def limiter_from_config(config: Mapping[str, Any]) -> RateLimiter:
    """Redis when `REDIS_URL` is set (shared by all processes), else this process's memory."""
    storage = str(config.get("RATELIMIT_STORAGE") or "").strip().lower()
    url = str(config.get("REDIS_URL") or "").strip()
    if url and storage != "memory":
        return RedisRateLimiter.from_url(
            url, prefix=str(config.get("RATELIMIT_PREFIX") or DEFAULT_PREFIX)
        )
    return MemoryRateLimiter()
