"""The widget's rating prompt (CSAT, contract section 9) and transcript action (section 10).

A visitor chats in the real widget on a host page of another origin; the agent is a
plain WebSocket client (the helpers of test_widget.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import Frame, Page, expect

from tests.browser import test_widget
from tests.browser.test_widget import Agent, Host, T, Visitor, add_site, cid, embed
from tests.servers import Server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

# the host page server and its site, shared with test_widget.py (session fixtures)
host = test_widget.host
host_site = test_widget.host_site

PROMPT = "How would you rate this conversation?"


def frame_of(page: Page) -> Frame:
    return next(f for f in page.frames if "/widget/frame" in f.url)


def stored(page: Page, name: str) -> Any:
    """A value the frame keeps in its localStorage (``chatdesk:SITE:name``)."""
    return frame_of(page).evaluate(
        "n => Object.keys(localStorage).filter(k => k.endsWith(':' + n))"
        ".map(k => JSON.parse(localStorage.getItem(k)))[0]",
        name,
    )


def ratings(desk: Server, token: str, ticket: int) -> list[dict[str, Any]]:
    r = desk.get(f"/api/v1/tickets/{ticket}/events", token)
    assert r.status_code == 200, r.text
    return [e for e in r.json()["items"] if e["kind"] == "rating"]


def test_rating_prompt_survives_a_reload_and_counts_once(desk, tokens, browser, host, host_site):
    admin = tokens["admin"]
    r = httpx.post(
        desk.url + "/api/v1/groups",
        json={"name": f"CSAT {uuid.uuid4().hex[:8]}"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert r.status_code in (200, 201), r.text
    group = r.json()["id"]
    ana = Agent(desk, tokens["ana"])
    url = host.page(embed(desk.url, host_site))
    v = Visitor(browser, url, locale="en-US")
    tab: Page | None = None
    tab_errors: list[str] = []
    try:
        v.open()
        first = f"My parcel is late {cid()}"
        v.say(first)
        ticket = ana.ticket_of(first)
        ana.ok({"type": "claim", "ticket": ticket})
        ana.ok(
            {
                "type": "transfer",
                "ticket": ticket,
                "agent": ana.welcome["agent"]["id"],
                "group": group,
            }
        )
        ana.answer(ticket, "It arrives tomorrow, sorry for the wait.")
        expect(v.shown("It arrives tomorrow")).to_be_visible(timeout=T)
        prompt = v.frame.get_by_role("group", name=PROMPT)
        expect(prompt).to_have_count(0)

        ana.ok({"type": "status", "ticket": ticket, "to": "solved"})
        expect(prompt).to_be_visible(timeout=T)
        expect(v.frame.get_by_text("This conversation was marked as solved")).to_be_visible()
        expect(prompt.get_by_role("radio")).to_have_count(5)
        expect(prompt.get_by_role("radio", name="4: good")).not_to_be_checked()
        assert stored(v.page, "csat") == ticket

        # a reload (a reconnect from scratch) keeps the unanswered prompt
        v.page.reload()
        v.open()
        expect(prompt).to_be_visible(timeout=T)
        expect(v.shown("It arrives tomorrow")).to_be_visible()

        # a second tab of the same visitor shows it too (from the stored request)
        tab = v.context.new_page()
        tab.on("pageerror", lambda e: tab_errors.append(str(e)))
        tab.goto(url)
        tab.get_by_role("button", name="Open chat").click()
        tab_frame = tab.frame_locator("chatdesk-widget iframe")
        tab_prompt = tab_frame.get_by_role("group", name=PROMPT)
        expect(tab_prompt).to_be_visible(timeout=T)

        # sending without a score asks for one, in words
        send = v.frame.get_by_role("button", name="Send feedback")
        send.click()
        expect(v.frame.get_by_role("alert").filter(has_text="Please choose")).to_have_text(
            "Please choose a rating from 1 to 5."
        )
        # the keyboard moves through the scores (a native radio group)
        prompt.get_by_role("radio", name="3: okay").focus()
        v.page.keyboard.press("ArrowRight")
        expect(prompt.get_by_role("radio", name="4: good")).to_be_checked()
        expect(prompt.get_by_role("radio", name="4: good")).to_be_focused()
        comment = v.frame.get_by_role("textbox", name="Anything you would like to add? (optional)")
        comment.fill("Quick and kind <b>thanks</b>")
        send.click()
        thanks = v.frame.get_by_role("status").filter(has_text="Thanks for your feedback!")
        expect(thanks).to_be_visible(timeout=T)
        expect(prompt).to_be_hidden()
        assert stored(v.page, "csat") is None

        # stored as an internal rating event, and counted in the report
        [rating] = ratings(desk, admin, ticket)
        assert rating["visibility"] == "internal"
        assert rating["score"] == 4 and rating["comment"] == "Quick and kind <b>thanks</b>"
        assert rating["author"]["type"] == "visitor"
        today = datetime.now(UTC).date().isoformat()
        summary = desk.get(
            "/api/v1/reports/summary", admin, **{"from": today, "to": today, "group": group}
        )
        assert summary.status_code == 200, summary.text
        assert summary.json()["csat"] == {"count": 1, "average": 4.0}

        # the other tab still offers the prompt; the desk refuses the second rating, politely
        tab_prompt.get_by_role("radio", name="5: excellent").check()
        tab_frame.get_by_role("button", name="Send feedback").click()
        refused = tab_frame.get_by_role("status").filter(has_text="already been rated")
        expect(refused).to_have_text("Thank you! This conversation has already been rated.")
        expect(tab_prompt).to_be_hidden()
        assert len(ratings(desk, admin, ticket)) == 1
        summary = desk.get(
            "/api/v1/reports/summary", admin, **{"from": today, "to": today, "group": group}
        )
        assert summary.json()["csat"] == {"count": 1, "average": 4.0}

        # a later reload shows no prompt: the request was answered
        v.page.reload()
        v.open()
        expect(v.shown("It arrives tomorrow")).to_be_visible(timeout=T)
        expect(prompt).to_have_count(0)

        # writing again reopens the ticket; a new solve asks again
        again = f"One more question {cid()}"
        v.say(again)
        expect(v.frame.get_by_text("The conversation was reopened")).to_be_visible(timeout=T)
        ana.ok({"type": "status", "ticket": ticket, "to": "solved"})
        expect(prompt).to_be_visible(timeout=T)
        expect(prompt.get_by_role("radio", name="4: good")).not_to_be_checked()
        expect(thanks).to_be_hidden()
        v.assert_clean()
        assert tab_errors == []
    finally:
        if tab is not None:
            tab.close()
        v.close()
        ana.close()


def signed_in(host: Host, desk: Server, name: str, email: str) -> str:
    """A host page on a site of its own whose visitor is signed in with `email`."""
    key, secret = add_site(desk, host.origin)
    external_id = f"u-{uuid.uuid4().hex[:8]}"
    sign = hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()
    identity = {"external_id": external_id, "name": name, "email": email, "hmac": sign}
    lead = f"<script>window.chatdeskSettings = {json.dumps({'identity': identity})};</script>"
    return host.page(embed(desk.url, key, lead=lead))


def test_transcript_answer_in_words(desk, tokens, browser, host, host_site):
    # the shared test desk has no CHATDESK_SMTP_URL: the desk answers `unavailable`
    v = Visitor(browser, signed_in(host, desk, "Lee Park", "lee@example.com"), locale="en-US")
    try:
        v.open()
        action = v.frame.get_by_role("button", name="Email me this conversation")
        expect(action).to_be_hidden()  # nothing to send before the first message
        first = f"Can I get this by mail? {cid()}"
        v.say(first)
        expect(v.frame.locator(".row.me .meta").last).to_contain_text("Sent", timeout=T)
        expect(action).to_be_visible(timeout=T)
        expect(action).to_have_attribute("aria-expanded", "false")
        action.click()
        expect(action).to_have_attribute("aria-expanded", "true")
        form = v.frame.locator("#tx")
        address = form.get_by_role("textbox", name="Email address")
        expect(address).to_be_focused()
        expect(address).to_have_value("lee@example.com")  # the visitor's known address
        result = form.get_by_role("status")

        form.get_by_role("button", name="Send").click()
        expect(result).to_have_text("E-mail is not set up on this desk.", timeout=T)

        # the desk's own words for an address it refuses
        address.fill("not-an-address")
        address.press("Enter")
        expect(result).to_contain_text("not an e-mail address", timeout=T)
        assert "not-an-address" in result.inner_text()
        assert "{" not in result.inner_text()

        # the action closes again; the composer is untouched
        action.click()
        expect(form).to_be_hidden()
        expect(action).to_have_attribute("aria-expanded", "false")
        v.assert_clean()
    finally:
        v.close()

    # without a known address the widget asks for one before asking the desk
    anon = Visitor(browser, host.page(embed(desk.url, host_site)), locale="de-DE")
    try:
        anon.launcher("Chat öffnen").click()
        composer = anon.frame.get_by_role("textbox", name="Nachricht")
        expect(composer).to_be_focused(timeout=T)
        composer.fill(f"Hallo {cid()}")
        composer.press("Enter")
        expect(anon.frame.locator(".row.me .meta").last).to_contain_text("Gesendet", timeout=T)
        anon.frame.get_by_role("button", name="Diese Unterhaltung per E-Mail erhalten").click()
        form = anon.frame.locator("#tx")
        expect(form.get_by_role("textbox", name="E-Mail-Adresse")).to_have_value("")
        form.get_by_role("button", name="Senden").click()
        expect(form.get_by_role("status")).to_have_text(
            "Bitte geben Sie eine gültige E-Mail-Adresse ein."
        )
        form.get_by_role("textbox", name="E-Mail-Adresse").fill("kim@example.com")
        form.get_by_role("button", name="Senden").click()
        expect(form.get_by_role("status")).to_have_text(
            "Der E-Mail-Versand ist hier nicht eingerichtet.", timeout=T
        )
        anon.assert_clean()
    finally:
        anon.close()
