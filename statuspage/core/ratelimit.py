"""Rate limits: how often one key (an IP address, an account, a subscriber) may do something.

A thin adapter over the `limits` library, so that callers say `hit(key, limit, window_seconds)`
and get True when the attempt is allowed (and counted), False when it is refused:

- The strategy is limits' sliding window counter: the count of the current window plus the
  previous window's count weighted by how much of it still lies inside the sliding window.
  Two counters per key; no burst of twice the limit at a window edge as a plain fixed window
  has. A refused attempt is not counted, so a client that keeps trying is let in again as the
  window slides on.
- `RedisRateLimiter`: limits' Redis storage, shared by every process and machine; each hit is
  one Lua script, so the check and the increment are atomic. If Redis does not answer, the
  limiter lets the attempt through and logs a warning (`fail_open=True`, the default: a rate
  limit is not worth refusing a subscriber over), or refuses it (`fail_open=False`).
- `MemoryRateLimiter`: limits' memory storage, in this process (expired counters are dropped
  by the library). Each web process counts on its own, so with N processes a client may get
  up to N times the limit: fine for the embedded single-process setup, use Redis beyond it.

`limiter_from_config(config)` picks Redis when `REDIS_URL` is set (`RATELIMIT_STORAGE=memory`
forces memory; `RATELIMIT_PREFIX` prefixes the Redis keys). Flask-free and free of every other
statuspage package: the worker, the CLI, the domain and the web views may all use it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

import redis
from limits import RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import SlidingWindowCounterRateLimiter

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "statuspage:ratelimit:"


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int, window_seconds: int) -> bool: ...


class _SlidingWindowLimiter:
    """limits' sliding window counter over one storage, failing open or closed."""

    def __init__(self, storage: Storage, *, fail_open: bool) -> None:
        self.storage = storage
        self.fail_open = fail_open
        self._strategy = SlidingWindowCounterRateLimiter(storage)

    def hit(self, key: str, limit: int, window_seconds: int) -> bool:
        if window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        if limit < 0:
            raise ValueError("limit must not be negative")
        # The limit and the window are part of limits' key, so one key with another window
        # (or another limit, after a settings change) is counted apart.
        item = RateLimitItemPerSecond(limit, window_seconds)
        try:
            return self._strategy.hit(item, key)
        except StorageError as error:
            logger.warning(
                "Rate limit store unavailable (%s); %s the attempt",
                error.storage_error.__class__.__name__,
                "allowing" if self.fail_open else "refusing",
            )
            return self.fail_open


class MemoryRateLimiter(_SlidingWindowLimiter):
    """Counters in this process only (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(MemoryStorage(wrap_exceptions=True), fail_open=False)

    def reset(self) -> None:
        self.storage.reset()


class RedisRateLimiter(_SlidingWindowLimiter):
    """Counters in Redis, shared across processes (see the module docstring)."""

    def __init__(
        self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX, fail_open: bool = True
    ) -> None:
        self.client = client
        self.prefix = prefix
        # limits joins its prefix and the key with ":"; ours ends with one already.
        storage = RedisStorage(
            "redis://",
            connection_pool=client.connection_pool,
            key_prefix=prefix.removesuffix(":"),
            wrap_exceptions=True,
        )
        super().__init__(storage, fail_open=fail_open)

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = DEFAULT_PREFIX, fail_open: bool = True
    ) -> RedisRateLimiter:
        # Short timeouts: a rate limit must never hold a request up for long.
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return cls(client, prefix=prefix, fail_open=fail_open)


def limiter_from_config(config: Mapping[str, Any]) -> RateLimiter:
    """Redis when `REDIS_URL` is set (shared by all processes), else this process's memory."""
    storage = str(config.get("RATELIMIT_STORAGE") or "").strip().lower()
    url = str(config.get("REDIS_URL") or "").strip()
    if url and storage != "memory":
        return RedisRateLimiter.from_url(
            url, prefix=str(config.get("RATELIMIT_PREFIX") or DEFAULT_PREFIX)
        )
    return MemoryRateLimiter()
