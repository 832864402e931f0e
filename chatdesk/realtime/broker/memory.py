"""The in-process broker of the embedded default: one process, no network."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from chatdesk.realtime.broker.base import Broker, Deliver, Resync


class MemoryBroker(Broker):
    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver, resync: Resync) -> None:
        self._deliver = deliver

    def publish(self, payloads: Sequence[bytes]) -> None:
        if self._deliver is None:
            return
        # Deliver on the next loop turn, as a remote broker would: never inside the writer.
        asyncio.get_running_loop().call_soon(self._deliver_all, list(payloads))

    def _deliver_all(self, payloads: list[bytes]) -> None:
        assert self._deliver is not None
        for payload in payloads:
            self._deliver(payload)

    async def close(self) -> None:
        self._deliver = None
