"""The slimmed uvicorn protocol's queue and flag keep asyncio's guarantees."""

from __future__ import annotations

import asyncio

from chatdesk.realtime.wsproto import Flag, Inbox


async def test_inbox_hands_items_over_in_order_and_loses_none_to_a_cancelled_reader():
    inbox = Inbox()
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    assert inbox.qsize() == 2
    assert await inbox.get() == 1
    assert await inbox.get() == 2
    assert inbox.empty()

    # A hello timing out: the reader is cancelled after the item arrived but before
    # it ran. The item stays for the next reader.
    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("hello")
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    assert reader.cancelled()
    assert await asyncio.wait_for(inbox.get(), 1) == "hello"

    waiting = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("later")
    assert await asyncio.wait_for(waiting, 1) == "later"


async def test_flag_lets_waiters_through_only_while_set():
    flag = Flag()
    assert not flag.is_set()
    waiter = asyncio.ensure_future(flag.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    flag.set()
    assert await asyncio.wait_for(waiter, 1) is True
    flag.clear()
    paused = asyncio.ensure_future(flag.wait())
    await asyncio.sleep(0.01)
    assert not paused.done()
    paused.cancel()
    await asyncio.gather(paused, return_exceptions=True)
    flag.set()
    assert await asyncio.wait_for(flag.wait(), 1) is True
