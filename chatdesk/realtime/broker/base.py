"""The broker carries bytes between server processes; it knows nothing of chat."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

Deliver = Callable[[bytes], None]
Resync = Callable[[], None]


class Broker(ABC):
    """Publish bytes to every process (this one included) and hand what arrives to ``deliver``.

    Messages published by this process reach its own ``deliver`` directly and at
    once, whatever the broker's health, so a process alone never depends on it.
    ``resync`` is called after an outage, when messages from other processes may
    have been lost: the hub then tells its clients to catch up by seq.
    """

    healthy: bool = True
    reconnects: int = 0

    @abstractmethod
    async def start(self, deliver: Deliver, resync: Resync) -> None: ...

    @abstractmethod
    def publish(self, payloads: Sequence[bytes]) -> None:
        """Queue payloads for every process, in order; never blocks the caller."""

    @abstractmethod
    async def close(self) -> None: ...
