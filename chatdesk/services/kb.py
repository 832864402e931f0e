"""The knowledge base: Markdown articles, their public pages, and full-text search.

Search has one interface over two engines, chosen by the session's dialect:
SQLite FTS5 (`kb_fts`, kept in step by triggers, ranked by bm25) and PostgreSQL
full-text search (a GIN expression index, ranked by ts_rank). Both come from
migration 0002. User text never reaches either query language as syntax: it is
cut into letter-and-digit terms that are quoted, so `"`, `*`, `AND OR (` or
`title:x` are plain words, never a 500.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, bindparam, delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, Conflict, NotFound
from chatdesk.services.markdown import to_html
from chatdesk.services.timeline import iso
from chatdesk.store.models import KbArticle, utcnow

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_SLUG = 100
MAX_TITLE = 200
MAX_BODY = 100_000
MAX_PAGE = 100
MAX_QUERY = 500
MAX_TERMS = 16
SNIPPET_WORDS = 24
_TERM = re.compile(r"[^\W_]+")
_SURROGATE = re.compile("[\ud800-\udfff]")

# Must stay identical to the indexed expression of migration 0002, or PostgreSQL
# cannot use the GIN index. Title weighs A (1.0 in ts_rank), body B (0.4).
PG_VECTOR = (
    "setweight(to_tsvector('simple', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('simple', coalesce(body, '')), 'B')"
)


def url(slug: str) -> str:
    return f"/kb/{slug}"


def _stamp(dt: datetime) -> str:
    # SQLite hands back naive datetimes; everything chatdesk stores is UTC.
    return iso(dt if dt.tzinfo else dt.replace(tzinfo=UTC))


def wire(article: KbArticle, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": article.id,
        "title": article.title,
        "slug": article.slug,
        "published": article.published,
        "url": url(article.slug),
        "created_at": _stamp(article.created_at),
        "updated_at": _stamp(article.updated_at),
    }
    if full:
        out["body"] = article.body
        out["html"] = to_html(article.body)
    return out


def slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:80].rstrip("-")


def _check_slug(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_SLUG or not SLUG.fullmatch(value):
        raise BadRequest(
            f"'slug' must be 1 to {MAX_SLUG} of a-z and 0-9 in words joined by '-', like "
            "'reset-your-password'"
        )
    return value


def _text(body: dict[str, Any], name: str, max_chars: int, blank_ok: bool = False) -> str:
    value = body.get(name)
    if not isinstance(value, str) or len(value) > max_chars:
        raise BadRequest(f"'{name}' must be a string of at most {max_chars} characters")
    if "\x00" in value or _SURROGATE.search(value):
        # JSON may smuggle lone surrogates ("\\ud800"), which no database can store.
        raise BadRequest(f"'{name}' must be valid text: no NUL, no lone surrogates")
    if not blank_ok and not value.strip():
        raise BadRequest(f"'{name}' must not be blank")
    return value


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if not isinstance(value, bool):
        raise BadRequest(f"'{name}' must be true or false")
    return value


async def _slug_taken(session: AsyncSession, slug: str, but: int = 0) -> bool:
    found = await session.scalar(
        select(KbArticle.id).where(KbArticle.slug == slug, KbArticle.id != but)
    )
    return found is not None


async def _free_slug(session: AsyncSession, title: str) -> str:
    """A slug from the title, numbered when taken; the caller did not choose one."""
    base = slugify(title) or "article"
    for n in range(1, 100):
        slug = base if n == 1 else f"{base}-{n}"
        if not await _slug_taken(session, slug):
            return slug
    raise Conflict(f"too many articles have the slug {base}; give a 'slug'")


async def _flush_unique(session: AsyncSession, slug: str) -> None:
    # The pre-check gives the usual answer; the unique constraint settles races.
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"the slug {slug} is taken already") from None


async def _article(session: AsyncSession, article_id: int) -> KbArticle:
    article = await session.get(KbArticle, article_id)
    if article is None:
        raise NotFound(f"no article {article_id}")
    return article


async def list_articles(
    session: AsyncSession, published: bool | None, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first by id, so pages neither skip nor repeat; bodies are left out."""
    limit = max(1, min(limit, MAX_PAGE))
    query = select(KbArticle)
    if published is not None:
        query = query.where(KbArticle.published == published)
    if cursor:
        try:
            query = query.where(KbArticle.id < int(cursor))
        except ValueError:
            raise BadRequest("'cursor' is not one this server gave") from None
    found = (await session.scalars(query.order_by(KbArticle.id.desc()).limit(limit + 1))).all()
    page = found[:limit]
    next_cursor = str(page[-1].id) if len(found) > limit else None
    return [wire(a) for a in page], next_cursor


async def get_article(session: AsyncSession, article_id: int) -> dict[str, Any]:
    return wire(await _article(session, article_id), full=True)


async def published_article(session: AsyncSession, slug: str) -> KbArticle | None:
    """The article a public page shows, or None: drafts are as unknown as missing slugs."""
    return await session.scalar(
        select(KbArticle).where(KbArticle.slug == slug, KbArticle.published.is_(True))
    )


async def create_article(session: AsyncSession, body: dict[str, Any]) -> dict[str, Any]:
    title = _text(body, "title", MAX_TITLE)
    markdown = _text(body, "body", MAX_BODY, blank_ok=True) if "body" in body else ""
    published = _flag(body, "published") if "published" in body else False
    if "slug" in body:
        slug = _check_slug(body["slug"])
        if await _slug_taken(session, slug):
            raise Conflict(f"the slug {slug} is taken already")
    else:
        slug = await _free_slug(session, title)
    now = utcnow()
    article = KbArticle(
        title=title,
        slug=slug,
        body=markdown,
        published=published,
        created_at=now,
        updated_at=now,
    )
    session.add(article)
    await _flush_unique(session, slug)
    return wire(article, full=True)


async def update_article(
    session: AsyncSession, article_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    """Any of title, slug, body, published. The slug never follows the title by
    itself: published links keep working until an admin changes it."""
    article = await _article(session, article_id)
    if "title" in body:
        article.title = _text(body, "title", MAX_TITLE)
    if "body" in body:
        article.body = _text(body, "body", MAX_BODY, blank_ok=True)
    if "published" in body:
        article.published = _flag(body, "published")
    if "slug" in body:
        slug = _check_slug(body["slug"])
        if await _slug_taken(session, slug, but=article.id):
            raise Conflict(f"the slug {slug} is taken already")
        article.slug = slug
    article.updated_at = utcnow()
    await _flush_unique(session, article.slug)
    return wire(article, full=True)


async def delete_article(session: AsyncSession, article_id: int) -> None:
    article = await _article(session, article_id)
    await session.execute(delete(KbArticle).where(KbArticle.id == article.id))


def terms(q: str) -> list[str]:
    """The words of a query, lowercased; punctuation and operators are separators."""
    return _TERM.findall(unicodedata.normalize("NFC", q).lower())[:MAX_TERMS]


def fts5_query(words: list[str]) -> str:
    """All words, each a quoted FTS5 string; the last one also as a prefix (search as
    you type). Quoting makes every word a literal: no column filters, no operators."""
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def pg_tsquery(words: list[str]) -> str:
    """The same for to_tsquery: quoted lexemes joined by &, the last one a prefix."""
    quoted = ["'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in words]
    quoted[-1] += ":*"
    return " & ".join(quoted)


_SQLITE_SEARCH = """
SELECT a.id, a.title, a.slug, a.published,
       snippet(kb_fts, 1, '', '', '…', {words}) AS snippet
FROM kb_fts JOIN kb_articles AS a ON a.id = kb_fts.rowid
WHERE kb_fts MATCH :match {published}
ORDER BY bm25(kb_fts, 10.0, 1.0), a.id
LIMIT :limit
"""

# Ranked and cut in the inner query, so ts_headline (costly) runs on the page only.
_PG_SEARCH = """
SELECT a.id, a.title, a.slug, a.published,
       ts_headline('simple', a.body, to_tsquery('simple', :match),
                   'StartSel="", StopSel="", MinWords=8, MaxWords={words}') AS snippet
FROM (
    SELECT id, ts_rank({vector}, query) AS rank
    FROM kb_articles, to_tsquery('simple', :match) AS query
    WHERE ({vector}) @@ query {published}
    ORDER BY rank DESC, id
    LIMIT :limit
) AS hit JOIN kb_articles AS a ON a.id = hit.id
ORDER BY hit.rank DESC, a.id
"""


async def search(
    session: AsyncSession, q: str, published: bool | None, limit: int
) -> list[dict[str, Any]]:
    """The best `limit` articles for `q`: title hits weigh more than body hits."""
    if len(q) > MAX_QUERY:
        raise BadRequest(f"'q' must be at most {MAX_QUERY} characters")
    words = terms(q)
    if not words:
        return []
    limit = max(1, min(limit, MAX_PAGE))
    dialect = session.bind.dialect.name
    params: dict[str, Any] = {"limit": limit}
    if dialect == "sqlite":
        where = "AND a.published = :published" if published is not None else ""
        sql = _SQLITE_SEARCH.format(words=SNIPPET_WORDS, published=where)
        params["match"] = fts5_query(words)
    elif dialect == "postgresql":
        where = "AND published = :published" if published is not None else ""
        sql = _PG_SEARCH.format(words=SNIPPET_WORDS, vector=PG_VECTOR, published=where)
        params["match"] = pg_tsquery(words)
    else:
        raise RuntimeError(f"knowledge-base search expects sqlite or postgresql, not {dialect}")
    statement = text(sql)
    if published is not None:
        statement = statement.bindparams(bindparam("published", type_=Boolean))
        params["published"] = published
    rows = (await session.execute(statement, params)).all()
    return [
        {
            "id": r.id,
            "title": r.title,
            "slug": r.slug,
            "snippet": " ".join((r.snippet or "").split()),
            "url": url(r.slug),
            "published": bool(r.published),
        }
        for r in rows
    ]
