"""Ticket management in the agent console, in a real browser against real desks.

A back-office ticket is made from a customer's chat (the form refuses to go without a
required attribute), its cross-posted note lands on the chat and never reaches the
visitor; a banned word holds a reply back until the agent says send anyway; a bulk change
is all or nothing; an admin edits ticket types, banned words, service levels and reads a
report.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from websockets.sync.client import connect

from tests.browser.test_console import (
    ANA,
    BO,
    DOCS,
    TIMEOUT_S,
    composer,
    console,
    show,
    ticket_in,
    visitor,
    write,
)
from tests.servers import Server

pytestmark = pytest.mark.browser

SUBMITTED = re.compile("submitted", re.I)
IN_PROGRESS = re.compile("in progress", re.I)


def rest(desk: Server, token: str, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(
        method,
        desk.url + "/api/v1" + path,
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT_S,
        **kw,
    )


def eventually(check: Callable[[], Any], what: str, timeout: float = TIMEOUT_S) -> Any:
    """Poll until check() returns something truthy (a REST view catching up)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def ticket_type(desk: Server, admin: str, name: str | None = None) -> dict[str, Any]:
    name = name or f"Refund approval {uuid.uuid4().hex[:6]}"
    r = rest(
        desk,
        admin,
        "POST",
        "/ticket-types",
        json={
            "name": name,
            "kind": "backoffice",
            "attributes": [
                {"key": "order_number", "label": "Order number", "type": "text",
                 "required": True},
                {"key": "amount", "label": "Amount", "type": "number", "required": False},
                {"key": "reason", "label": "Reason", "type": "choice", "required": False,
                 "choices": ["damaged", "late", "other"]},
            ],
        },
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()


def claim_chat(page: Page, ticket: int) -> None:
    ticket_in(page, "new", ticket).click()
    page.get_by_role("button", name="Claim").click()
    expect(page.locator("#conv-status")).to_have_text("open")


def create_back_office(page: Page, type_name: str, order: str, title: str) -> int:
    """From the open chat's sidebar; returns the new ticket's number."""
    page.get_by_role("button", name="Create back-office ticket").click()
    form = page.get_by_role("dialog")
    form.get_by_label("Type", exact=True).select_option(label=type_name)
    form.get_by_label("Title", exact=True).fill(title)
    form.get_by_label("Order number").fill(order)
    form.get_by_role("button", name="Create", exact=True).click()
    expect(form).to_be_hidden()
    link = page.locator('#d-links li[data-kind="backoffice"]').first
    expect(link).to_contain_text(SUBMITTED)
    return int(link.get_attribute("data-link") or 0)


# --------------------------------------------------------------------------- tests


def test_back_office_ticket_from_a_chat_and_a_cross_posted_note(
    desk: Server, browser: Browser, tokens: dict[str, str]
) -> None:
    kind = ticket_type(desk, tokens["admin"])
    secret = f"SECRET-{uuid.uuid4().hex[:8]}: finance approved the refund of 40 EUR"
    title = "Refund for the broken parcel"

    with console(browser, desk, ANA) as ana, visitor(desk, name="Maria") as v:
        chat = v.say("My parcel arrived broken, I want my money back")
        claim_chat(ana, chat)

        # The form, opened from the chat's sidebar, shows the type's attributes with the
        # required one marked, and refuses to go without it.
        ana.get_by_role("button", name="Create back-office ticket").click()
        form = ana.get_by_role("dialog")
        expect(form).to_contain_text(f"Linked to #{chat}")
        form.get_by_label("Type", exact=True).select_option(label=kind["name"])
        order = form.get_by_label("Order number")
        expect(order).to_have_attribute("aria-required", "true")
        expect(form.locator("label", has_text="Order number").locator(".req")).to_be_visible()
        form.get_by_label("Title", exact=True).fill(title)
        form.get_by_label("Amount").fill("40")
        form.get_by_role("button", name="Create", exact=True).click()
        expect(form.locator(".field-error", has_text="Order number is required")).to_be_visible()
        expect(form.locator(".form-error")).to_have_text("Fill in: Order number.")
        expect(order).to_have_attribute("aria-invalid", "true")
        expect(form).to_be_visible()
        assert rest(desk, tokens["ana"], "GET", f"/tickets/{chat}").json()["links"] == []

        # Filled in (with the conversation copied into the description), it is created,
        # linked to the chat, and shows in the chat's sidebar.
        order.fill("4411")
        form.get_by_role("button", name="Conversation details").click()
        description = form.get_by_label("Description", exact=True)
        expect(description).to_have_value(re.compile("I want my money"))
        form.get_by_role("button", name="Create", exact=True).click()
        expect(form).to_be_hidden()
        link = ana.locator('#d-links li[data-kind="backoffice"]')
        expect(link).to_contain_text(title)
        expect(link).to_contain_text(SUBMITTED)
        bo = int(link.get_attribute("data-link") or 0)
        made = rest(desk, tokens["ana"], "GET", f"/tickets/{bo}").json()
        assert made["kind"] == "backoffice" and made["type"] == kind["id"]
        assert made["attributes"] == {"order_number": "4411", "amount": 40}
        assert [x["ticket"] for x in made["links"]] == [chat]
        assert "I want my money back" in (made["description"] or "")

        # The back-office ticket links back, shows its attributes and is listed apart.
        link.locator("a.link-open").click()
        expect(ana.locator("#conv-kind")).to_have_text("Back office")
        expect(ana.locator("#conv-name")).to_have_text(title)
        expect(ana.locator("#conv-brief")).to_contain_text("4411")
        expect(ana.locator(f'#d-links li[data-link="{chat}"]')).to_be_visible()
        show(ana, "backoffice")
        expect(ticket_in(ana, "backoffice", bo)).to_contain_text(title)
        expect(ticket_in(ana, "backoffice", bo).locator(".kind")).to_have_text("Back office")

        # Worked on: in progress, and a note cross-posted with Ctrl+Shift+Enter.
        claim = ana.get_by_role("button", name="Claim")
        if claim.count():
            claim.click()
        status = ana.get_by_role("group", name="Status")
        status.get_by_role("button", name="In progress").click()
        expect(ana.locator("#conv-status")).to_have_text("in progress")
        expect(ana.locator('#composer [role=tab][data-mode="reply"]')).to_be_hidden()
        composer(ana).fill(secret)
        composer(ana).press("Control+Shift+Enter")
        note = ana.locator("#events .note", has_text=secret)
        expect(note).to_contain_text(f"cross-posted to #{chat}")

        def copied() -> dict[str, Any] | None:
            items = rest(desk, tokens["ana"], "GET", f"/tickets/{chat}/events").json()["items"]
            return next(
                (
                    e
                    for e in items
                    if e["kind"] == "note"
                    and e.get("body") == secret
                    and e.get("cross_posted_from") == bo
                ),
                None,
            )

        assert eventually(copied, "the cross-posted note on the chat")["visibility"] == "internal"

        # Back on the chat: the note is there, marked as coming from the back office, and
        # the sidebar shows the back-office ticket's new state.
        ana.locator(f'#d-links li[data-link="{chat}"] a.link-open').click()
        expect(ana.locator("#conv-kind")).to_have_text("Chat")
        expect(ana.locator("#events .note", has_text=secret)).to_contain_text(f"from #{bo}")
        expect(ana.locator(f'#d-links li[data-link="{bo}"]')).to_contain_text(IN_PROGRESS)
        expect(ana.locator("#events .sys-linked_status")).to_contain_text("in progress")

        # The visitor gets the public reply that follows, and nothing of the back office.
        write(ana, "We are refunding you, Maria.")
        v.message("We are refunding you, Maria.")
        assert v.request({"type": "sync", "after_seq": 0})["events"]
        seen = json.dumps(v.frames)
        for leak in (secret, "SECRET", title, "4411", kind["name"], "cross_posted"):
            assert leak not in seen, leak
        kinds = {f["event"]["kind"] for f in v.frames if f["type"] == "event"}
        assert kinds <= {"message", "status"}, kinds


def test_a_banned_word_holds_the_reply_until_sent_anyway(
    desk: Server, browser: Browser, tokens: dict[str, str]
) -> None:
    word = f"frobnicate{uuid.uuid4().hex[:4]}"
    made = rest(desk, tokens["admin"], "POST", "/banned-words", json={"word": word})
    assert made.status_code == 201, made.text
    try:
        with console(browser, desk, ANA) as ana, visitor(desk) as v:
            chat = v.say("Can you help?")
            claim_chat(ana, chat)
            text = f"Sure, we will {word} it right away."
            composer(ana).fill(text)
            ana.get_by_role("button", name="Preview").click()
            expect(ana.locator("#preview")).to_contain_text(f"banned word “{word}”")
            composer(ana).press("Enter")
            held = ana.locator("#pending [data-pending]")
            expect(held).to_contain_text(f"banned word “{word}”")
            expect(held).to_contain_text("Send anyway?")
            held.get_by_role("button", name="Send anyway").click()
            assert v.message(text)["author"]["name"] == "Ana"
            expect(ana.locator("#events .msg.out", has_text=text)).to_be_visible()
            expect(held).to_have_count(0)
    finally:
        rest(desk, tokens["admin"], "DELETE", f"/banned-words/{made.json()['id']}")


def test_bulk_changes_are_all_or_nothing(
    desk: Server, browser: Browser, tokens: dict[str, str]
) -> None:
    with (
        console(browser, desk, ANA) as ana,
        visitor(desk) as one,
        visitor(desk) as two,
        connect(desk.ws("/ws/agent"), subprotocols=["chatdesk.json"]) as bo,
    ):
        mine = one.say("First question")
        theirs = two.say("Second question")
        claim_chat(ana, mine)
        bo.send(json.dumps({"type": "hello", "token": tokens["bo"]}))
        bo.send(json.dumps({"type": "claim", "rid": "c", "ticket": theirs}))
        while (answer := json.loads(bo.recv(timeout=TIMEOUT_S))).get("rid") != "c":
            pass
        assert answer["type"] == "ok", answer

        show(ana, "team")
        expect(ticket_in(ana, "team", theirs)).to_be_visible()
        show(ana, "open")
        expect(ticket_in(ana, "open", mine)).to_be_visible()

        # Both ticked from the search results: Bo's chat refuses, so neither changes.
        show(ana, "search")
        ana.locator("#search-form select[name=status]").select_option("open")
        ana.locator("#search-form").get_by_role("button", name="Search").click()
        for t in (mine, theirs):
            ana.get_by_label(f"Select #{t}", exact=True).check()
        bar = ana.locator("#bulk-bar")
        expect(bar).to_contain_text("2 selected")
        bar.get_by_label("Priority").select_option("urgent")
        bar.get_by_role("button", name="Apply to 2").click()
        expect(bar.locator(".bulk-error")).to_contain_text(f"#{theirs}")
        expect(bar.locator(".bulk-error")).to_contain_text("Nothing was changed")
        expect(ana.locator(".ti-row.refused")).to_contain_text(f"#{theirs}")
        for t in (mine, theirs):
            assert rest(desk, tokens["ana"], "GET", f"/tickets/{t}").json()["priority"] == "normal"

        # Without it, the change goes through and the list shows the priority.
        ana.get_by_label(f"Select #{theirs}", exact=True).uncheck()
        bar.get_by_label("Priority").select_option("urgent")
        bar.get_by_role("button", name="Apply to 1").click()
        expect(bar).to_be_hidden()
        assert rest(desk, tokens["ana"], "GET", f"/tickets/{mine}").json()["priority"] == "urgent"
        show(ana, "open")
        expect(ticket_in(ana, "open", mine).locator(".prio")).to_have_text("urgent")


def test_admin_pages_for_ticket_management(
    desk: Server, browser: Browser, tokens: dict[str, str]
) -> None:
    admin = ("admin@example.com", desk.admin_password or "", "Admin")
    name = f"Address change {uuid.uuid4().hex[:6]}"
    with console(browser, desk, admin) as page:
        page.goto(desk.url + "/console/#/settings/ticket-types")
        form = page.locator(".admin-form")
        form.get_by_label("Name").fill(name)
        form.get_by_role("button", name="+ Add attribute").click()
        form.get_by_label("Attribute 1 label").fill("New address")
        expect(form.get_by_label("Attribute 1 key")).to_have_value("new_address")
        form.get_by_label("Attribute 1 required").check()
        form.get_by_role("button", name="+ Add attribute").click()
        form.get_by_label("Attribute 2 label").fill("Carrier")
        form.get_by_label("Attribute 2 type").select_option("choice")
        form.get_by_label("Attribute 2 choices").fill("DHL, UPS")
        form.get_by_role("button", name="Add", exact=True).click()
        expect(page.locator(".table")).to_contain_text(name)
        types = rest(desk, tokens["admin"], "GET", "/ticket-types").json()["items"]
        made = next(t for t in types if t["name"] == name)
        assert made["attributes"] == [
            {"key": "new_address", "label": "New address", "type": "text", "required": True},
            {"key": "carrier", "label": "Carrier", "type": "choice", "required": False,
             "choices": ["DHL", "UPS"]},
        ]  # fmt: skip

        page.get_by_role("link", name="Service levels").click()
        page.get_by_label("First response for urgent priority, minutes").fill("15")
        page.get_by_label("Resolution for urgent priority, minutes").fill("240")
        page.get_by_role("button", name="Save").click()
        try:
            expect(page.locator(".toast", has_text="Service levels saved")).to_be_visible()
            sla = rest(desk, tokens["admin"], "GET", "/sla").json()
            assert sla["urgent"] == {"first_response_minutes": 15, "resolution_minutes": 240}
        finally:
            unset = {"first_response_minutes": None, "resolution_minutes": None}
            rest(desk, tokens["admin"], "PUT", "/sla", json={"urgent": unset})

        page.get_by_role("link", name="Banned words").click()
        word = f"blorp{uuid.uuid4().hex[:4]}"
        page.locator(".admin-form").get_by_label("Word or phrase").fill(word)
        page.locator(".admin-form").get_by_role("button", name="Add", exact=True).click()
        expect(page.locator(".table")).to_contain_text(word)
        page.once("dialog", lambda d: d.accept())
        page.locator("tr", has_text=word).get_by_role("button", name="Delete").click()
        expect(page.locator(".table")).not_to_contain_text(word)

        # Reports: the numbers and a bar per day of the last two weeks.
        page.get_by_role("link", name="Reports").click()
        report = page.locator(".report")
        expect(report.locator(".stats")).to_contain_text("New chats")
        expect(report.locator("svg.chart rect.bar")).to_have_count(14)


def test_screenshot_of_back_office_work(make_backend, browser: Browser) -> None:
    """docs/console-backoffice.png, from a desk of its own."""
    backend = make_backend("sqlite", "backoffice-screenshot")
    server = Server(backend).start()
    try:
        backend.cli("agent", "add", "ana@example.com", "--name", "Ana", "--password", ANA[1])
        backend.cli("agent", "add", "bo@example.com", "--name", "Bo", "--password", BO[1])
        admin = server.login()
        ticket_type(server, admin, "Refund approval")
        with (
            console(browser, server, ANA) as ana,
            visitor(server, "Maria Lopez", "https://shop.example/orders/4411") as maria,
            visitor(server, "Jonas Berg") as jonas,
            visitor(server, "Tom Becker") as tom,
        ):
            other = jonas.say("The jacket I got is the wrong size")
            claim_chat(ana, other)
            create_back_office(ana, "Refund approval", "4398", "Exchange: jacket, wrong size")

            chat = maria.say("Hi! My order #4411 arrived broken. Can I get my money back?")
            claim_chat(ana, chat)
            sorry = "I'm so sorry, Maria! I'll ask our finance team about a refund right away."
            write(ana, sorry)
            maria.message(sorry)
            ana.get_by_role("button", name="Create back-office ticket").click()
            form = ana.get_by_role("dialog")
            form.get_by_label("Type", exact=True).select_option(label="Refund approval")
            form.get_by_label("Title", exact=True).fill("Refund for order #4411 (arrived broken)")
            form.get_by_label("Order number").fill("4411")
            form.get_by_label("Amount").fill("89.90")
            form.get_by_label("Reason").select_option("damaged")
            form.get_by_role("button", name="Customer details").click()
            description = form.get_by_label("Description", exact=True)
            expect(description).to_have_value(re.compile("Customer"))
            description.fill(
                description.input_value()
                + "\n\nPhotos of the damage are in the chat; she prefers a refund to the card."
            )
            form.get_by_role("button", name="Create", exact=True).click()
            expect(form).to_be_hidden()
            link = ana.locator('#d-links li[data-kind="backoffice"]')
            expect(link).to_contain_text(SUBMITTED)
            link.locator("a.link-open").click()
            expect(ana.locator("#conv-kind")).to_have_text("Back office")
            status = ana.get_by_role("group", name="Status")
            status.get_by_role("button", name="In progress").click()
            expect(ana.locator("#conv-status")).to_have_text("in progress")
            composer(ana).fill("Finance approved the refund of 89.90 EUR; it goes out today.")
            composer(ana).press("Control+Shift+Enter")
            expect(ana.locator("#events .note")).to_contain_text("cross-posted")
            tom.say("Do you deliver on Saturdays?")
            show(ana, "backoffice")
            expect(ana.locator('#list-body [data-kind="backoffice"]')).to_have_count(2)
            composer(ana).fill("Customer confirmed the card ending 0412.")
            composer(ana).blur()
            ana.evaluate("document.querySelectorAll('.toast').forEach((t) => t.remove())")
            DOCS.mkdir(exist_ok=True)
            ana.screenshot(path=str(DOCS / "console-backoffice.png"))
    finally:
        server.stop()
