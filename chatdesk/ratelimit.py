"""Rate limits: fixed windows counted in this process or, with Redis, across all of them."""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from chatdesk.errors import RateLimited


@dataclass(frozen=True, slots=True)
class Rule:
    """At most ``limit`` hits per ``window_s`` seconds for one key; 0 turns it off."""

    name: str
    limit: int
    window_s: float


class Limiter(ABC):
    @abstractmethod
    async def count(self, rule: Rule, key: str) -> tuple[int, float]:
        """Count one hit; returns (hits in the current window, seconds until it ends)."""

    async def hit(self, rule: Rule, key: str) -> None:
        """RateLimited (with retry_after) when the hit is over the rule's limit."""
        if rule.limit <= 0:
            return
        hits, left = await self.count(rule, key)
        if hits > rule.limit:
            raise RateLimited(f"too many {rule.name}; slow down", retry_after=max(left, 0.05))

    async def close(self) -> None:  # noqa: B027 (an optional hook, not abstract)
        """Release connections, if any."""


class MemoryLimiter(Limiter):
    def __init__(self) -> None:
        # (rule, key, window number) -> (hits, when the window ends)
        self._windows: dict[tuple[str, str, int], tuple[int, float]] = {}
        self._swept = 0.0

    async def count(self, rule: Rule, key: str) -> tuple[int, float]:
        now = time.monotonic()
        window = math.floor(now / rule.window_s)
        ends = (window + 1) * rule.window_s
        slot = (rule.name, key, window)
        hits = self._windows.get(slot, (0, ends))[0] + 1
        self._windows[slot] = (hits, ends)
        if now - self._swept > 30:
            # Ended windows are never read again; dropping them keeps memory flat.
            self._swept = now
            self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
        return hits, ends - now


class RedisLimiter(Limiter):
    """Shared windows in Redis. If Redis is unreachable, fall back to this process's count:
    a broker outage must not stop chats, and limits still hold per process."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis = aioredis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._prefix = prefix
        self._fallback = MemoryLimiter()

    async def count(self, rule: Rule, key: str) -> tuple[int, float]:
        now = time.time()
        window = math.floor(now / rule.window_s)
        name = f"{self._prefix}:rl:{rule.name}:{key}:{window}"
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.incr(name)
                pipe.expire(name, math.ceil(rule.window_s) + 1, nx=True)
                hits, _ = await pipe.execute()
        except (RedisError, OSError):
            return await self._fallback.count(rule, key)
        return int(hits), (window + 1) * rule.window_s - now

    async def close(self) -> None:
        await self._redis.aclose()


@dataclass(frozen=True, slots=True)
class Rules:
    """The desk's limits, from settings (a limit of 0 turns a rule off)."""

    ip_connects: Rule
    visitor_messages: Rule
    agent_commands: Rule
    uploads: Rule
    logins: Rule
    logins_per_ip: Rule
