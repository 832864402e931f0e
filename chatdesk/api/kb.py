"""/api/v1/kb: articles (agents read, admins write), search, and the public page /kb/{slug}."""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from chatdesk.api.common import current_agent, desk, int_param, json_body, parse_id
from chatdesk.errors import BadRequest, Forbidden
from chatdesk.ops import audit
from chatdesk.services import kb
from chatdesk.services.agents import Principal
from chatdesk.services.markdown import to_html

SEARCH_LIMIT = 20

# The page runs no script at all and loads nothing but its own images; its body is
# sanitised already, this is the second wall.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Publishing and unpublishing take effect at once, so browsers revalidate.
    "Cache-Control": "no-cache",
}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 16px/1.6 system-ui, sans-serif; color: #1f2328; margin: 0; background: #f6f8fa; }}
main {{ max-width: 46rem; margin: 2rem auto; padding: 1.5rem 2rem; background: #fff;
       border: 1px solid #d0d7de; border-radius: 8px; }}
h1, h2, h3 {{ line-height: 1.25; }}
pre, code {{ font-family: ui-monospace, monospace; background: #f6f8fa; border-radius: 4px; }}
pre {{ padding: 0.75rem; overflow-x: auto; }}
img {{ max-width: 100%; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #d0d7de; padding: 0.3rem 0.6rem; }}
blockquote {{ margin-left: 0; padding-left: 1rem; border-left: 4px solid #d0d7de; color: #57606a; }}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""


def _published(request: Request) -> bool | None:
    raw = request.query_params.get("published")
    if raw is None or raw == "":
        return None
    if raw in ("1", "true"):
        return True
    if raw in ("0", "false"):
        return False
    raise BadRequest("'published' must be 1, 0, true or false")


async def _admin(request: Request) -> Principal:
    agent = await current_agent(request)
    if not agent.is_admin:
        raise Forbidden("only admins change the knowledge base")
    return agent


async def index(request: Request) -> Response:
    await current_agent(request)
    async with desk(request).reads() as session:
        items, next_cursor = await kb.list_articles(
            session,
            _published(request),
            request.query_params.get("cursor") or None,
            int_param(request, "limit", 50),
        )
    return JSONResponse({"items": items, "next_cursor": next_cursor})


async def create(request: Request) -> Response:
    admin = await _admin(request)
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        article = await kb.create_article(session, body)
        detail = {"slug": article["slug"], "published": article["published"]}
        await audit.record(session, admin, "kb.create", f"article:{article['id']}", detail)
    return JSONResponse(article, status_code=201)


async def show(request: Request) -> Response:
    await current_agent(request)
    article_id = parse_id(request.path_params["id"], "an article id")
    async with desk(request).reads() as session:
        return JSONResponse(await kb.get_article(session, article_id))


async def update(request: Request) -> Response:
    admin = await _admin(request)
    article_id = parse_id(request.path_params["id"], "an article id")
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        article = await kb.update_article(session, article_id, body)
        changed = audit.changes(body, ("slug", "published"))
        await audit.record(session, admin, "kb.update", f"article:{article_id}", changed)
    return JSONResponse(article)


async def remove(request: Request) -> Response:
    admin = await _admin(request)
    article_id = parse_id(request.path_params["id"], "an article id")
    async with desk(request).writes() as session, session.begin():
        await kb.delete_article(session, article_id)
        await audit.record(session, admin, "kb.delete", f"article:{article_id}")
    return Response(status_code=204)


async def search(request: Request) -> Response:
    await current_agent(request)
    q = request.query_params.get("q", "")
    if not q.strip():
        raise BadRequest("'q' is required: the words to search for")
    limit = int_param(request, "limit", SEARCH_LIMIT)
    async with desk(request).reads() as session:
        items = await kb.search(session, q, _published(request), limit)
    return JSONResponse({"items": items, "next_cursor": None})


def _page(title: str, body_html: str, status: int = 200) -> HTMLResponse:
    page = PAGE.format(title=html.escape(title), body=body_html)
    return HTMLResponse(page, status_code=status, headers=PAGE_HEADERS)


async def public_page(request: Request) -> Response:
    """The article for anybody with its link; a draft is as unknown as a missing slug."""
    slug = request.path_params["slug"]
    article = None
    if kb.SLUG.fullmatch(slug) and len(slug) <= kb.MAX_SLUG:
        async with desk(request).reads() as session:
            article = await kb.published_article(session, slug)
    if article is None:
        return _page("Article not found", "<p>There is no such article.</p>", status=404)
    return _page(article.title, to_html(article.body))


routes = [
    Route("/api/v1/kb/articles", index, methods=["GET"]),
    Route("/api/v1/kb/articles", create, methods=["POST"]),
    Route("/api/v1/kb/articles/{id}", show, methods=["GET"]),
    Route("/api/v1/kb/articles/{id}", update, methods=["PATCH"]),
    Route("/api/v1/kb/articles/{id}", remove, methods=["DELETE"]),
    Route("/api/v1/kb/search", search, methods=["GET"]),
    Route("/kb/{slug}", public_page, methods=["GET"]),
]
