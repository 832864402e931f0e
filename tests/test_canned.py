"""Canned responses over REST: who sees what, who may change what, search and rendering."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.client import visitor


def tag() -> str:
    return uuid.uuid4().hex[:8]


def api(desk, token: str) -> httpx.Client:
    return httpx.Client(base_url=desk.url, headers={"Authorization": f"Bearer {token}"})


def new(client: httpx.Client, shortcut: str, **fields) -> dict:
    body = {"shortcut": shortcut, "title": f"Title {shortcut}", "body": "Body", **fields}
    r = client.post("/api/v1/canned", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def ids(r: httpx.Response) -> list[int]:
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


def test_personal_canned_is_the_owners_alone(desk, tokens):
    t = tag()
    with api(desk, tokens["ana"]) as ana, api(desk, tokens["bo"]) as bo:
        with api(desk, tokens["admin"]) as admin:
            mine = new(ana, f"/p{t}", body="Hello from Ana")
            assert mine["scope"] == "personal"
            assert mine["owner"]["name"] == "Ana"
            assert set(mine) >= {"id", "scope", "shortcut", "title", "body", "owner"}
            path = f"/api/v1/canned/{mine['id']}"

            assert mine["id"] in ids(ana.get("/api/v1/canned"))
            assert ana.get(path).json()["body"] == "Hello from Ana"
            assert ana.get(path + "/render").json() == {"body": "Hello from Ana"}
            # Nobody else, not even an admin, learns that it exists.
            for other in (bo, admin):
                assert mine["id"] not in ids(other.get("/api/v1/canned"))
                assert mine["id"] not in ids(other.get("/api/v1/canned", params={"q": f"p{t}"}))
                for r in (
                    other.get(path),
                    other.get(path + "/render"),
                    other.patch(path, json={"title": "mine now"}),
                    other.delete(path),
                ):
                    assert r.status_code == 404 and r.json()["code"] == "not_found", r.text
            assert ana.get(path).json()["title"] == f"Title /p{t}"

            changed = ana.patch(path, json={"title": "Greeting", "shortcut": f"/g{t}"})
            assert changed.status_code == 200
            assert changed.json()["title"] == "Greeting"
            assert changed.json()["shortcut"] == f"/g{t}"
            assert ana.delete(path).status_code == 204
            assert ana.get(path).status_code == 404
            assert ana.delete(path).status_code == 404


def test_company_canned_is_everybodys_but_only_admins_change_it(desk, tokens):
    t = tag()
    with api(desk, tokens["ana"]) as ana, api(desk, tokens["bo"]) as bo:
        with api(desk, tokens["admin"]) as admin:
            r = ana.post(
                "/api/v1/canned",
                json={"scope": "company", "shortcut": f"/c{t}", "title": "x", "body": "y"},
            )
            assert r.status_code == 403 and r.json()["code"] == "forbidden"

            shared = new(admin, f"/c{t}", scope="company", body="Thanks, {{agent.name}}")
            assert shared["scope"] == "company" and shared["owner"] is None
            path = f"/api/v1/canned/{shared['id']}"
            for agent, name in ((ana, "Ana"), (bo, "Bo")):
                assert shared["id"] in ids(agent.get("/api/v1/canned"))
                assert shared["id"] in ids(agent.get("/api/v1/canned", params={"scope": "company"}))
                assert shared["id"] not in ids(
                    agent.get("/api/v1/canned", params={"scope": "personal"})
                )
                assert agent.get(path + "/render").json() == {"body": f"Thanks, {name}"}
                for r in (agent.patch(path, json={"title": "hijack"}), agent.delete(path)):
                    assert r.status_code == 403 and r.json()["code"] == "forbidden"

            assert admin.patch(path, json={"body": "Thanks!"}).json()["body"] == "Thanks!"
            assert admin.delete(path).status_code == 204
            assert ana.get(path).status_code == 404


def test_shortcuts_are_unique_per_owner_and_among_company_ones(desk, tokens):
    t = tag()
    with api(desk, tokens["ana"]) as ana, api(desk, tokens["bo"]) as bo:
        with api(desk, tokens["admin"]) as admin:
            first = new(ana, f"/u{t}")
            again = ana.post(
                "/api/v1/canned", json={"shortcut": f"/u{t}", "title": "a", "body": "b"}
            )
            assert again.status_code == 409 and again.json()["code"] == "conflict"
            new(bo, f"/u{t}")  # another owner's namespace
            new(admin, f"/u{t}", scope="company")  # company ones have their own
            dup = admin.post(
                "/api/v1/canned",
                json={"scope": "company", "shortcut": f"/u{t}", "title": "a", "body": "b"},
            )
            assert dup.status_code == 409
            other = new(ana, f"/v{t}")
            taken = ana.patch(f"/api/v1/canned/{other['id']}", json={"shortcut": f"/u{t}"})
            assert taken.status_code == 409
            # Setting the shortcut it already has is no conflict with itself.
            same = ana.patch(f"/api/v1/canned/{first['id']}", json={"shortcut": f"/u{t}"})
            assert same.status_code == 200


def test_search_by_shortcut_prefix_and_by_text(desk, tokens):
    t = tag()
    with api(desk, tokens["ana"]) as ana, api(desk, tokens["admin"]) as admin:
        refund = new(ana, f"/refund{t}", title="Money back", body="We refund within 5 days.")
        ship = new(
            admin, f"/ship{t}", scope="company", title=f"Shipping {t}", body="It ships today."
        )
        mention = new(ana, f"/note{t}", title="Other", body=f"Ask about /refund{t} first")

        def found(q: str) -> list[int]:
            return ids(ana.get("/api/v1/canned", params={"q": q}))

        assert found(f"/refund{t}") == [refund["id"]]  # with '/': shortcuts only
        assert found(f"/REFUND{t}") == [refund["id"]]  # shortcuts are lowercase
        assert refund["id"] in found("/refund") and mention["id"] not in found("/refund")
        # Without '/': the shortcut prefix ranks first, then text hits.
        assert found(f"refund{t}") == [refund["id"], mention["id"]]
        assert found(f"ship{t}") == [ship["id"]]
        assert found(f"SHIPPING {t}") == [ship["id"]]  # title, any case
        assert found(f"{t}") == [mention["id"], ship["id"]]  # text, then shortcut order
        # LIKE wildcards in q are plain characters.
        assert found("%") == [] and found("_") == [] and found("/%") == []


def test_list_pages_by_cursor(desk, tokens):
    t = tag()
    with api(desk, tokens["bo"]) as bo:
        made = [new(bo, f"/pg{t}-{i}")["id"] for i in range(5)]
        for q in (f"/pg{t}", f"pg{t}"):
            seen: list[int] = []
            cursor = None
            while True:
                params = {"q": q, "limit": 2, **({"cursor": cursor} if cursor else {})}
                page = bo.get("/api/v1/canned", params=params).json()
                assert len(page["items"]) <= 2
                seen += [item["id"] for item in page["items"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert seen == made
        r = bo.get("/api/v1/canned", params={"cursor": "nonsense"})
        assert r.status_code == 400 and r.json()["code"] == "bad_request"


async def test_render_fills_placeholders_and_never_shows_braces(desk, tokens):
    headers = {"Authorization": f"Bearer {tokens['ana']}"}
    async with httpx.AsyncClient(base_url=desk.url, headers=headers) as ana:
        template = (
            "Hi {{customer.name}} <{{ customer.email }}>, {{agent.name}} here on "
            "#{{ticket.id}}.{{unknown.thing}}{{}}{{ agent.password }}"
        )
        r = await ana.post(
            "/api/v1/canned",
            json={"shortcut": f"/hi{tag()}", "title": "Greeting", "body": template},
        )
        assert r.status_code == 201
        render = f"/api/v1/canned/{r.json()['id']}/render"

        known = await visitor(desk)
        await known.ok({"type": "profile", "name": "Kim", "email": "kim@example.com"})
        ticket = (
            await known.ok({"type": "message", "client_msg_id": tag(), "body": "Where is it?"})
        )["ticket"]
        anonymous = await visitor(desk)
        bare = (await anonymous.ok({"type": "message", "client_msg_id": tag(), "body": "hi"}))[
            "ticket"
        ]

        got = await ana.get(render, params={"ticket": ticket})
        assert got.json() == {"body": f"Hi Kim <kim@example.com>, Ana here on #{ticket}."}
        # A customer with neither name nor e-mail: empty text, never the raw braces.
        got = await ana.get(render, params={"ticket": bare})
        assert got.json() == {"body": f"Hi  <>, Ana here on #{bare}."}
        got = await ana.get(render)
        assert got.json() == {"body": "Hi  <>, Ana here on #."}

        missing = await ana.get(render, params={"ticket": 2_000_000_000})
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        for bad in ("abc", "-1", "0", "99999999999"):
            r = await ana.get(render, params={"ticket": bad})
            assert r.status_code == 400 and r.json()["code"] == "bad_request", bad
        await known.close()
        await anonymous.close()


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"shortcut": "refund", "title": "t", "body": "b"}, "shortcut"),
        ({"shortcut": "/Refund", "title": "t", "body": "b"}, "shortcut"),
        ({"shortcut": "/re fund", "title": "t", "body": "b"}, "shortcut"),
        ({"shortcut": "/" + "a" * 33, "title": "t", "body": "b"}, "shortcut"),
        ({"shortcut": "/", "title": "t", "body": "b"}, "shortcut"),
        ({"shortcut": 5, "title": "t", "body": "b"}, "shortcut"),
        ({"title": "t", "body": "b"}, "shortcut"),
        ({"shortcut": "/ok-bad1", "body": "b"}, "title"),
        ({"shortcut": "/ok-bad2", "title": "   ", "body": "b"}, "title"),
        ({"shortcut": "/ok-bad3", "title": "t", "body": "x" * 10_001}, "body"),
        ({"shortcut": "/ok-bad4", "title": "t", "body": "a\x00b"}, "body"),
        ({"shortcut": "/ok-bad6", "title": "\ud800", "body": "b"}, "title"),
        ({"shortcut": "/ok-bad5", "title": "t", "body": "b", "scope": "team"}, "scope"),
    ],
)
def test_bad_canned_is_a_bad_request(desk, tokens, body, mentions):
    with api(desk, tokens["ana"]) as ana:
        # json.dumps escapes lone surrogates as \\ud800, as a hostile client would send them.
        r = ana.post("/api/v1/canned", content=json.dumps(body))
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "bad_request" and mentions in r.json()["detail"]


def test_bad_requests_around_canned(desk, tokens):
    with api(desk, tokens["ana"]) as ana:
        item = new(ana, f"/b{tag()}")
        path = f"/api/v1/canned/{item['id']}"
        for r in (
            ana.post("/api/v1/canned", content=b"{"),
            ana.post("/api/v1/canned", json=["list"]),
            ana.patch(path, json={"scope": "company"}),
            ana.patch(path, json={"shortcut": "nope"}),
            ana.patch(path, json={"title": ""}),
            ana.get("/api/v1/canned/abc"),
            ana.get("/api/v1/canned/99999999999"),
            ana.get("/api/v1/canned", params={"scope": "everyone"}),
            ana.get("/api/v1/canned", params={"limit": "many"}),
            ana.get("/api/v1/canned", params={"q": "x" * 201}),
            ana.get("/api/v1/canned", params={"q": "a\x00b"}),  # PostgreSQL refuses NUL
        ):
            assert r.status_code == 400 and r.json()["code"] == "bad_request", r.text
        assert ana.get(path).json() == item  # nothing above changed it
        for raw in ("q=%ED%A0%80", "q=%FF%FE"):  # not UTF-8: replaced, never a 500
            assert ana.get("/api/v1/canned?" + raw).status_code == 200
    assert httpx.get(desk.url + "/api/v1/canned").status_code == 401
    r = httpx.post(desk.url + "/api/v1/canned", json={"shortcut": "/x", "title": "t", "body": "b"})
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
