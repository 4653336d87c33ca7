"""Where the copies are kept: this process's memory (an LRU bounded by entries and bytes) or
Redis (shared by every process). Copies are JSON and raw bytes, never pickle."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from statuspage.public.cache.policy import DEFAULTS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """One stored response: the body, its own headers, the version it was rendered at, and
    its compressed bodies (`encoding.compress`: "br", "gzip")."""

    version: int
    stored_at: float
    body: bytes
    headers: list[tuple[str, str]]
    etag: str
    variants: dict[str, bytes] = field(default_factory=dict)
    size: int = field(init=False)

    def __post_init__(self) -> None:
        size = len(self.body) + sum(len(data) for data in self.variants.values()) + 200
        object.__setattr__(self, "size", size)

    def dumps(self) -> bytes:
        meta = {
            "v": self.version,
            "t": self.stored_at,
            "h": self.headers,
            "e": self.etag,
            "z": [[name, len(data)] for name, data in self.variants.items()],
        }
        parts = [json.dumps(meta, separators=(",", ":")).encode(), b"\n", self.body]
        parts += list(self.variants.values())
        return b"".join(parts)

    @classmethod
    def loads(cls, raw: bytes) -> Entry:
        # JSON and raw bytes, never pickle: whoever can write to Redis must not run code here.
        meta_line, rest = raw.split(b"\n", 1)
        meta = json.loads(meta_line)
        headers = [(str(name), str(value)) for name, value in meta["h"]]
        lengths = [(str(name), int(length)) for name, length in meta.get("z", [])]
        end = len(rest) - sum(length for _, length in lengths)
        if end < 0:
            raise ValueError("entry shorter than its compressed bodies")
        body, variants = rest[:end], {}
        for name, length in lengths:
            variants[name] = rest[end : end + length]
            end += length
        return cls(int(meta["v"]), float(meta["t"]), body, headers, str(meta["e"]), variants)


class Store(Protocol):
    def get(self, key: str) -> Entry | None: ...

    def put(self, key: str, entry: Entry, *, keep_seconds: int) -> None: ...

    def claim(self, key: str, seconds: int) -> bool: ...

    def claimed(self, key: str) -> bool: ...

    def release(self, key: str) -> None: ...

    def clear(self) -> None: ...


class MemoryStore:
    """This process's copies: least recently used first out, bounded by entries and bytes."""

    def __init__(self, *, max_entries: int, max_bytes: int, clock: Callable[[], float]) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0
        self._claims: dict[str, float] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: str, entry: Entry, *, keep_seconds: int) -> None:
        if entry.size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.get(key)
            if old is not None and old.version > entry.version:
                return  # a slower render of an older version must not replace a newer one
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = entry
            self._entries.move_to_end(key)
            self._bytes += entry.size
            self._claims.pop(key, None)
            while self._entries and (
                len(self._entries) > self.max_entries or self._bytes > self.max_bytes
            ):
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.size

    def claim(self, key: str, seconds: int) -> bool:
        now = self.clock()
        with self._lock:
            if self._claims.get(key, 0.0) > now:
                return False
            if len(self._claims) > self.max_entries:
                self._claims = {k: until for k, until in self._claims.items() if until > now}
            self._claims[key] = now + seconds
            return True

    def claimed(self, key: str) -> bool:
        with self._lock:
            return self._claims.get(key, 0.0) > self.clock()

    def release(self, key: str) -> None:
        with self._lock:
            self._claims.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._claims.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


class RedisStore:
    """Copies in Redis, shared by every process. A Redis error counts as a miss (the page is
    rendered) and Redis is then left alone for `PAUSE_SECONDS`, so an outage of the cache does
    not add a timeout to every request."""

    PAUSE_SECONDS = 5.0

    def __init__(self, client: Any, *, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.url: str | None = None  # for a listening connection of its own (VersionWatch)
        self._paused_until = 0.0

    @classmethod
    def from_url(cls, url: str, *, prefix: str) -> RedisStore:
        import redis  # loaded only when the cache is in Redis

        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        store = cls(client, prefix=prefix)
        store.url = url
        return store

    def _call(self, action: Callable[[], Any], fallback: Any) -> Any:
        import redis

        if time.monotonic() < self._paused_until:
            return fallback
        try:
            return action()
        except redis.RedisError as error:
            logger.warning("public cache: Redis unavailable (%s)", error.__class__.__name__)
            self._paused_until = time.monotonic() + self.PAUSE_SECONDS
            return fallback

    def get(self, key: str) -> Entry | None:
        raw = self._call(lambda: self.client.get(self.prefix + key), None)
        if raw is None:
            return None
        try:
            return Entry.loads(raw)
        except (ValueError, KeyError, TypeError):
            logger.warning("public cache: unreadable entry dropped")
            return None

    def put(self, key: str, entry: Entry, *, keep_seconds: int) -> None:
        self._call(
            lambda: self.client.set(self.prefix + key, entry.dumps(), ex=max(keep_seconds, 1)),
            None,
        )

    def claim(self, key: str, seconds: int) -> bool:
        # When Redis fails, claim: rendering is the safe answer.
        return bool(
            self._call(
                lambda: self.client.set(self.prefix + "claim:" + key, b"1", nx=True, ex=seconds),
                True,
            )
        )

    def claimed(self, key: str) -> bool:
        # When Redis fails, nobody holds a claim: the waiter renders.
        return bool(self._call(lambda: self.client.exists(self.prefix + "claim:" + key), False))

    def release(self, key: str) -> None:
        self._call(lambda: self.client.delete(self.prefix + "claim:" + key), None)

    # --- the public version, published here by every commit that bumps it ----------------

    # Set only when no higher version is there: two writers, or a writer and a reader that
    # read the database a moment before, may offer in any order; the highest stays.
    _OFFER = """
local current = redis.call('GET', KEYS[1])
if current then
  local version = tonumber(string.match(current, '^(%d+)'))
  if version and version > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""

    def read_version(self) -> tuple[int, datetime] | None:
        """(public_version, public_changed_at) as last published, or None (not there, expired
        or Redis unavailable: the caller reads the database)."""
        raw = self._call(lambda: self.client.get(self.prefix + "version"), None)
        if raw is None:
            return None
        try:
            version, changed_at = raw.decode().split(" ", 1)
            return int(version), datetime.fromisoformat(changed_at)
        except ValueError:
            return None

    def offer_version(self, version: int, changed_at: datetime, *, keep_seconds: float) -> None:
        """Publish the version unless a higher one is there; kept `keep_seconds`, so a change
        written around the app (by hand in SQL) shows after that long at most."""
        if keep_seconds <= 0:
            return
        value = f"{version} {changed_at.isoformat()}"
        milliseconds = max(int(keep_seconds * 1000), 1)
        self._call(
            lambda: self.client.eval(
                self._OFFER, 1, self.prefix + "version", version, value, milliseconds
            ),
            None,
        )

    @property
    def version_channel(self) -> str:
        return self.prefix + "version-changed"

    def announce_version(self, version: int, changed_at: datetime) -> None:
        """Tell every listening process (`VersionWatch`) at once."""
        value = f"{version} {changed_at.isoformat()}"
        self._call(lambda: self.client.publish(self.version_channel, value), None)

    def clear(self) -> None:
        def delete_all() -> None:
            keys = list(self.client.scan_iter(match=self.prefix + "*"))
            if keys:
                self.client.delete(*keys)

        self._call(delete_all, None)


def make_store(config: Any, clock: Callable[[], float]) -> Store | None:
    """The store `PUBLIC_CACHE_STORAGE` and `REDIS_URL` ask for; None: no caching."""
    storage = str(config.get("PUBLIC_CACHE_STORAGE") or "").strip().lower()
    redis_url = str(config.get("REDIS_URL") or "").strip()
    prefix = str(config.get("PUBLIC_CACHE_PREFIX") or DEFAULTS["PUBLIC_CACHE_PREFIX"])
    if storage == "none":
        return None
    if storage == "redis" or (not storage and redis_url):
        if not redis_url:
            raise RuntimeError("PUBLIC_CACHE_STORAGE=redis needs REDIS_URL.")
        return RedisStore.from_url(redis_url, prefix=prefix)
    if storage not in ("", "memory"):
        raise RuntimeError(f"PUBLIC_CACHE_STORAGE must be memory, redis or none, not {storage!r}")
    return MemoryStore(
        max_entries=int(
            config.get("PUBLIC_CACHE_MAX_ENTRIES", 0) or DEFAULTS["PUBLIC_CACHE_MAX_ENTRIES"]
        ),
        max_bytes=int(
            config.get("PUBLIC_CACHE_MAX_BYTES", 0) or DEFAULTS["PUBLIC_CACHE_MAX_BYTES"]
        ),
        clock=clock,
    )
