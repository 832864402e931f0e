"""The knowledge base over REST: admin writes, ranked full-text search, the public page."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest


def word() -> str:
    """A search term no other article contains: letters only, so every engine sees one token."""
    return "kw" + "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:10])


def api(desk, token: str) -> httpx.Client:
    return httpx.Client(base_url=desk.url, headers={"Authorization": f"Bearer {token}"})


def article(client: httpx.Client, **fields) -> dict:
    r = client.post("/api/v1/kb/articles", json=fields)
    assert r.status_code == 201, r.text
    return r.json()


def search(client: httpx.Client, q: str, **params) -> list[dict]:
    r = client.get("/api/v1/kb/search", params={"q": q, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_admins_write_articles_and_agents_read_them(desk, tokens):
    w = word()
    with api(desk, tokens["admin"]) as admin, api(desk, tokens["ana"]) as ana:
        r = ana.post("/api/v1/kb/articles", json={"title": "Mine", "body": "x"})
        assert r.status_code == 403 and r.json()["code"] == "forbidden"

        made = article(admin, title=f"Reset your password {w}", body="## Steps\n\n1. **Open** it")
        assert made["slug"] == f"reset-your-password-{w}"
        assert made["published"] is False and made["url"] == f"/kb/{made['slug']}"
        assert "<h2>Steps</h2>" in made["html"] and "<strong>Open</strong>" in made["html"]
        path = f"/api/v1/kb/articles/{made['id']}"

        got = ana.get(path).json()
        assert got["body"] == "## Steps\n\n1. **Open** it" and got["html"] == made["html"]
        listed = ana.get("/api/v1/kb/articles").json()
        assert made["id"] in [a["id"] for a in listed["items"]]
        assert "next_cursor" in listed
        drafts = ana.get("/api/v1/kb/articles", params={"published": 0}).json()["items"]
        assert made["id"] in [a["id"] for a in drafts]
        live = ana.get("/api/v1/kb/articles", params={"published": 1}).json()["items"]
        assert made["id"] not in [a["id"] for a in live]

        for r in (ana.patch(path, json={"published": True}), ana.delete(path)):
            assert r.status_code == 403 and r.json()["code"] == "forbidden"
        same_title = article(admin, title=f"Reset your password {w}")
        assert same_title["slug"] == f"reset-your-password-{w}-2"  # numbered, never refused

        changed = admin.patch(path, json={"title": "New title", "published": True}).json()
        assert changed["title"] == "New title" and changed["published"] is True
        assert changed["slug"] == made["slug"]  # links keep working
        assert admin.delete(path).status_code == 204
        assert ana.get(path).status_code == 404
        assert admin.delete(path).status_code == 404


def test_list_pages_by_cursor(desk, tokens):
    with api(desk, tokens["admin"]) as admin:
        made = [article(admin, title=f"Page {word()}")["id"] for _ in range(3)]
        seen: list[int] = []
        cursor = None
        while True:
            page = admin.get(
                "/api/v1/kb/articles", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
            ).json()
            assert len(page["items"]) <= 2
            seen += [a["id"] for a in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen[:3] == made[::-1]  # newest first
        assert len(seen) == len(set(seen))


def test_search_ranks_title_and_body_above_one_mention(desk, tokens):
    w = word()
    with api(desk, tokens["admin"]) as admin, api(desk, tokens["bo"]) as bo:
        once = article(
            admin,
            title="Shipping times",
            body=f"Parcels leave the warehouse daily; see {w} for the exceptions to this.",
            published=True,
        )
        both = article(
            admin, title=f"All about {w}", body=f"The {w} policy explained.", published=True
        )
        unrelated = article(admin, title="Returns", body="Nothing to see", published=True)

        found = search(bo, w)
        assert [a["id"] for a in found] == [both["id"], once["id"]]
        assert unrelated["id"] not in [a["id"] for a in found]
        hit = found[1]
        assert set(hit) >= {"id", "title", "slug", "snippet", "url", "published"}
        assert w in hit["snippet"] and hit["url"] == f"/kb/{once['slug']}"
        assert "<" not in hit["snippet"]

        assert [a["id"] for a in search(bo, w.upper())] == [both["id"], once["id"]]
        assert [a["id"] for a in search(bo, w[:-3])] == [both["id"], once["id"]]  # as you type
        assert [a["id"] for a in search(bo, f"{w} policy")] == [both["id"]]  # every word
        assert search(bo, f"{w} nosuchwordanywhere") == []
        assert [a["id"] for a in search(bo, w, limit=1)] == [both["id"]]


def test_search_sees_drafts_edits_and_deletions(desk, tokens):
    w, later = word(), word()
    with api(desk, tokens["admin"]) as admin, api(desk, tokens["ana"]) as ana:
        draft = article(admin, title="Draft", body=f"About {w}.")
        assert [a["id"] for a in search(ana, w)] == [draft["id"]]
        assert search(ana, w)[0]["published"] is False
        assert search(ana, w, published=1) == []
        assert [a["id"] for a in search(ana, w, published=0)] == [draft["id"]]

        path = f"/api/v1/kb/articles/{draft['id']}"
        admin.patch(path, json={"published": True})
        assert [a["id"] for a in search(ana, w, published="true")] == [draft["id"]]
        admin.patch(path, json={"body": f"Now about {later}."})
        assert search(ana, w) == []
        assert [a["id"] for a in search(ana, later)] == [draft["id"]]
        admin.delete(path)
        assert search(ana, later) == []


@pytest.mark.parametrize(
    "q",
    [
        '"',
        "*",
        "AND OR (",
        "title:x",
        "NEAR(a b)",
        "'",
        "\\",
        "a:*",
        "!(x | y)",
        "-x ^y",
        '"unterminated',
        "x AND",
        "( ) { } [ ] < >",
        "&&&|||!!!",
        "é ü ß 中文 🙂",
        "x" * 500,
    ],
)
def test_hostile_search_terms_are_just_words(desk, tokens, q):
    with api(desk, tokens["ana"]) as ana:
        r = ana.get("/api/v1/kb/search", params={"q": q})
        assert r.status_code == 200, r.text
        assert isinstance(r.json()["items"], list)


def test_search_needs_words_and_an_agent(desk, tokens):
    with api(desk, tokens["ana"]) as ana:
        # Bytes that are no UTF-8 (a lone surrogate's encoding, 0xFF) are not a 500 either,
        # nor is NUL, which PostgreSQL refuses in any text.
        for raw in ("q=%ED%A0%80", "q=%FF%FE", "q=a%00b"):
            r = ana.get("/api/v1/kb/search?" + raw)
            assert r.status_code == 200 and isinstance(r.json()["items"], list), r.text
        for params in ({}, {"q": ""}, {"q": "   "}, {"q": "x" * 501}, {"q": "a", "published": "2"}):
            r = ana.get("/api/v1/kb/search", params=params)
            assert r.status_code == 400 and r.json()["code"] == "bad_request", params
    r = httpx.get(desk.url + "/api/v1/kb/search", params={"q": "password"})
    assert r.status_code == 401


def test_public_page_shows_only_published_articles_sanitised(desk, tokens):
    w = word()
    body = (
        "## Fixing it\n\nPress **Save**.\n\n"
        "<script>alert(1)</script>\n\n"
        '<img src="x" onerror="alert(2)">\n\n'
        '<a href="javascript:alert(3)">click</a> [ok](https://example.com)\n\n'
        "<p onclick='alert(4)'>para</p>\n"
    )
    with api(desk, tokens["admin"]) as admin:
        made = article(admin, title=f"<b>Bold</b> & {w}", body=body)
        page_url = desk.url + made["url"]

        hidden = httpx.get(page_url)
        assert hidden.status_code == 404
        assert hidden.headers["content-type"].startswith("text/html")
        assert w not in hidden.text

        admin.patch(f"/api/v1/kb/articles/{made['id']}", json={"published": True})
        page = httpx.get(page_url)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert "script-src" not in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        html = page.text
        assert f"&lt;b&gt;Bold&lt;/b&gt; &amp; {w}" in html and "<b>Bold</b>" not in html
        assert "<h2>Fixing it</h2>" in html and "<strong>Save</strong>" in html
        assert 'href="https://example.com"' in html
        lowered = html.lower()
        for bad in ("<script", "alert(", "onerror", "onclick", "javascript:"):
            assert bad not in lowered, bad
        # The API's html is the same sanitised rendering.
        api_html = admin.get(f"/api/v1/kb/articles/{made['id']}").json()["html"]
        assert "<script" not in api_html and "onerror" not in api_html

        admin.patch(f"/api/v1/kb/articles/{made['id']}", json={"published": False})
        assert httpx.get(page_url).status_code == 404
    for missing in ("/kb/no-such-article", "/kb/BAD..slug", "/kb/%3Cscript%3E"):
        r = httpx.get(desk.url + missing)
        assert r.status_code == 404 and "<script" not in r.text


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"body": "no title"}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "t", "body": 5}, "body"),
        ({"title": "t", "body": "x" * 100_001}, "body"),
        ({"title": "t", "body": "lone \udfff surrogate"}, "body"),
        ({"title": "t\x00"}, "title"),
        ({"title": "t", "published": "yes"}, "published"),
        ({"title": "t", "slug": "Has Spaces"}, "slug"),
        ({"title": "t", "slug": "-dash-first"}, "slug"),
        ({"title": "t", "slug": "a" * 101}, "slug"),
        ({"title": "t", "slug": ""}, "slug"),
    ],
)
def test_bad_article_is_a_bad_request(desk, tokens, body, mentions):
    with api(desk, tokens["admin"]) as admin:
        # json.dumps escapes lone surrogates as \\ud800, as a hostile client would send them.
        r = admin.post("/api/v1/kb/articles", content=json.dumps(body))
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "bad_request" and mentions in r.json()["detail"]


def test_slugs_are_unique_and_other_bad_requests(desk, tokens):
    slug = f"fixed-{word()}"
    with api(desk, tokens["admin"]) as admin:
        first = article(admin, title="One", slug=slug)
        assert first["slug"] == slug
        r = admin.post("/api/v1/kb/articles", json={"title": "Two", "slug": slug})
        assert r.status_code == 409 and r.json()["code"] == "conflict"
        other = article(admin, title="Two")
        r = admin.patch(f"/api/v1/kb/articles/{other['id']}", json={"slug": slug})
        assert r.status_code == 409
        path = f"/api/v1/kb/articles/{first['id']}"
        for r in (
            admin.get("/api/v1/kb/articles/abc"),
            admin.get("/api/v1/kb/articles", params={"published": "maybe"}),
            admin.get("/api/v1/kb/articles", params={"cursor": "x"}),
            admin.patch(path, json={"published": 1}),
            admin.patch(path, content=b"not json"),
        ):
            assert r.status_code == 400 and r.json()["code"] == "bad_request", r.text
        assert admin.get("/api/v1/kb/articles/2000000000").status_code == 404
