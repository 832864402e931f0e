"""Topic -> local connections, and fan-out of bus messages to them. Never imports redis."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from chatdesk.realtime import bus

log = logging.getLogger(__name__)


class Subscriber(Protocol):
    def push(self, item: object) -> None: ...


class Hub:
    def __init__(self) -> None:
        self._topics: dict[str, set[Subscriber]] = {}
        self._listeners: dict[str, list[Callable[[bus.BusMessage], None]]] = {}
        self._resync_hooks: list[Callable[[], None]] = []

    def subscribe(self, topic: str, sub: Subscriber) -> None:
        self._topics.setdefault(topic, set()).add(sub)

    def unsubscribe(self, topic: str, sub: Subscriber) -> None:
        subs = self._topics.get(topic)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._topics[topic]

    def listen(self, topic: str, callback: Callable[[bus.BusMessage], None]) -> None:
        """A process-level listener (presence, kicks) rather than a client connection."""
        self._listeners.setdefault(topic, []).append(callback)

    def on_resync(self, hook: Callable[[], None]) -> None:
        self._resync_hooks.append(hook)

    def subscribers(self, topic: str) -> int:
        return len(self._topics.get(topic, ()))

    def deliver(self, payload: bytes) -> None:
        try:
            topic, msg = bus.unpack(payload)
        except Exception:
            log.exception("undecodable bus message dropped")
            return
        for callback in self._listeners.get(topic, ()):
            callback(msg)
        subs = self._topics.get(topic)
        if subs:
            for sub in tuple(subs):
                sub.push(msg)

    def push_local(self, topic: str, item: object) -> None:
        """Push to this process's subscribers only (state every process computes itself)."""
        for sub in tuple(self._topics.get(topic, ())):
            sub.push(item)

    def resync(self) -> None:
        for hook in self._resync_hooks:
            hook()
        for subs in list(self._topics.values()):
            for sub in tuple(subs):
                sub.push(RESYNC)


class _Resync:
    """Pushed to every connection after a broker outage."""


RESYNC = _Resync()
