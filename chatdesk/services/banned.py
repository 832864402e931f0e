"""Banned words: a reply containing one is refused unless the agent insists (`force`)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatdesk.errors import BadRequest, Conflict, NotFound
from chatdesk.store.models_backoffice import BannedWord

CACHE_S = 2.0


class BannedWords:
    """The list, read at most every few seconds: every reply is checked against it."""

    def __init__(self, reads: async_sessionmaker[AsyncSession]) -> None:
        self._reads = reads
        self._pattern: re.Pattern[str] | None = None
        self._words: list[str] = []
        self._loaded = 0.0
        # One reload at a time: replies arriving together must not each query the list.
        self._reloading = asyncio.Lock()

    async def _current(self) -> re.Pattern[str] | None:
        if time.monotonic() - self._loaded <= CACHE_S:
            return self._pattern
        async with self._reloading:
            if time.monotonic() - self._loaded <= CACHE_S:
                return self._pattern
            async with self._reads() as session:
                self._words = list((await session.execute(select(BannedWord.word))).scalars())
            self._pattern = (
                re.compile(
                    r"(?<!\w)(" + "|".join(re.escape(w) for w in self._words) + r")(?!\w)",
                    re.IGNORECASE,
                )
                if self._words
                else None
            )
            self._loaded = time.monotonic()
        return self._pattern

    async def check(self, body: str) -> None:
        pattern = await self._current()
        if pattern is None:
            return
        found = pattern.search(body)
        if found:
            raise BadRequest(
                f"the reply contains the banned word {found.group(1)!r}; send again with "
                "force: true to send it anyway",
                word=found.group(1).lower(),
            )

    def forget(self) -> None:
        self._loaded = 0.0


async def list_words(session: AsyncSession) -> list[dict[str, Any]]:
    rows = (await session.execute(select(BannedWord).order_by(BannedWord.word))).scalars()
    return [{"id": w.id, "word": w.word} for w in rows]


async def add_word(session: AsyncSession, raw: str) -> dict[str, Any]:
    word = " ".join(raw.split()).lower()
    if not word or len(word) > 100:
        raise BadRequest("a banned word is 1 to 100 characters")
    if await session.scalar(select(BannedWord.id).where(BannedWord.word == word)) is not None:
        raise Conflict(f"{word!r} is banned already")
    row = BannedWord(word=word)
    session.add(row)
    await session.flush()
    return {"id": row.id, "word": row.word}


async def remove_word(session: AsyncSession, word_id: int) -> None:
    row = await session.get(BannedWord, word_id)
    if row is None:
        raise NotFound(f"no banned word {word_id}")
    await session.delete(row)
