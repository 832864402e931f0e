"""Which agents are online, across every process, told over the bus.

Each process announces its online and away agents when they change and every
few seconds; an announcement not renewed within three periods is forgotten, so
a killed process's agents drop out by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable

from chatdesk.realtime import bus
from chatdesk.realtime.hub import Hub
from chatdesk.realtime.protocol import AgentsOnlinePush, PresencePush

Publish = Callable[[list[bytes]], None]


class Presence:
    def __init__(self, hub: Hub, publish: Publish, period_s: float = 5.0) -> None:
        self._hub = hub
        self._publish = publish
        self._period = period_s
        self.process = os.urandom(6).hex()
        self._local: dict[int, int] = {}
        self._away: set[int] = set()
        self._remote: dict[str, tuple[set[int], set[int], float]] = {}
        self._online_value = False
        self._task: asyncio.Task[None] | None = None
        hub.listen(bus.PRESENCE, self._heard)
        hub.on_resync(self._announce)

    def start(self) -> None:
        self._task = asyncio.create_task(self._beat())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._local.clear()
        self._announce()

    def agent_connected(self, agent_id: int) -> None:
        self._local[agent_id] = self._local.get(agent_id, 0) + 1
        if self._local[agent_id] == 1:
            self._announce()

    def agent_disconnected(self, agent_id: int) -> None:
        left = self._local.get(agent_id, 0) - 1
        if left <= 0:
            self._local.pop(agent_id, None)
            self._away.discard(agent_id)
            self._announce()
        else:
            self._local[agent_id] = left

    def set_away(self, agent_id: int, away: bool) -> None:
        if away:
            self._away.add(agent_id)
        else:
            self._away.discard(agent_id)
        self._announce()

    def agents(self) -> dict[int, str]:
        """Every agent connected anywhere: 'online' or 'away'."""
        now = time.monotonic()
        states: dict[int, str] = {}
        for online, away, seen in self._remote.values():
            if now - seen > 3 * self._period:
                continue
            for agent in online:
                if agent in away:
                    states.setdefault(agent, "away")
                else:
                    states[agent] = "online"
        return states

    @property
    def agents_online(self) -> bool:
        return any(state == "online" for state in self.agents().values())

    def _announce(self) -> None:
        msg = bus.PresenceMsg(self.process, sorted(self._local), sorted(self._away))
        self._publish([bus.pack(bus.PRESENCE, msg)])

    def _heard(self, msg: bus.BusMessage) -> None:
        if not isinstance(msg, bus.PresenceMsg):
            return
        before = self.agents()
        self._remote[msg.process] = (set(msg.agents), set(msg.away), time.monotonic())
        self._changed(before)

    def _changed(self, before: dict[int, str]) -> None:
        after = self.agents()
        if after != before:
            self._hub.push_local(bus.AGENTS, presence_push(after))
        online = any(s == "online" for s in after.values())
        if online != self._online_value:
            self._online_value = online
            self._hub.push_local(bus.VISITORS, AgentsOnlinePush(online))

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._period)
            before = self.agents()
            now = time.monotonic()
            for process, (_, _, seen) in list(self._remote.items()):
                if now - seen > 3 * self._period:
                    del self._remote[process]
            self._changed(before)
            self._announce()


def presence_push(states: dict[int, str]) -> PresencePush:
    return PresencePush([{"id": a, "status": s} for a, s in sorted(states.items())])
