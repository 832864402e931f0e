"""The agent console in a real browser, against real desks.

An agent signs in with the form, a visitor's chat shows up in New live, the agent
claims it, replies, labels it and writes a note; the visitor gets the reply and never
the note; a teammate in another browser context sees the chat under Team. The
visitor side is a raw WebSocket client until the widget exists.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import APIResponse, Browser, Page, Route, WebSocketRoute, expect
from websockets.sync.client import ClientConnection, connect

from tests.servers import Server

pytestmark = pytest.mark.browser

TIMEOUT_S = float(os.environ.get("CHATDESK_TEST_TIMEOUT", "10"))
DOCS = Path(__file__).resolve().parents[2] / "docs"
ANA = ("ana@example.com", "ana-password", "Ana")
BO = ("bo@example.com", "bo-password", "Bo")


# --------------------------------------------------------------------------- visitors


class Visitor:
    """A visitor on /ws/visitor that keeps every frame it received, in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self._rid = 0
        self.welcome: dict[str, Any] = {}

    def send(self, frame: dict[str, Any]) -> None:
        self.ws.send(json.dumps(frame))

    def wait_for(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT_S
    ) -> dict[str, Any]:
        for frame in self.frames:
            if match(frame):
                return frame
        while True:
            frame = json.loads(self.ws.recv(timeout=timeout))
            self.frames.append(frame)
            if match(frame):
                return frame

    def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        self._rid += 1
        rid = f"v{self._rid}"
        self.send({**frame, "rid": rid})
        answer = self.wait_for(lambda f: f.get("rid") == rid)
        assert answer["type"] == "ok", answer
        return answer

    def say(self, body: str) -> int:
        frame = {"type": "message", "client_msg_id": uuid.uuid4().hex, "body": body}
        return self.request(frame)["ticket"]

    def message(self, body: str) -> dict[str, Any]:
        """Wait for the public message event with this body."""
        return self.wait_for(
            lambda f: (
                f["type"] == "event"
                and f["event"]["kind"] == "message"
                and f["event"].get("body") == body
            )
        )["event"]


@contextmanager
def visitor(
    desk: Server, name: str | None = None, page_url: str | None = None
) -> Iterator[Visitor]:
    with connect(
        desk.ws("/ws/visitor"), subprotocols=["chatdesk.json"], open_timeout=TIMEOUT_S
    ) as ws:
        v = Visitor(ws)
        hello: dict[str, Any] = {"type": "hello", "site": desk.site_key, "visitor_token": None}
        if page_url:
            hello["page_url"] = page_url
        v.send(hello)
        v.welcome = v.wait_for(lambda f: f["type"] == "welcome")
        if name:
            v.request({"type": "profile", "name": name})
        yield v


# --------------------------------------------------------------------------- consoles


@contextmanager
def console(
    browser: Browser,
    desk: Server,
    who: tuple[str, str, str],
    route: Callable[[WebSocketRoute], None] | None = None,
) -> Iterator[Page]:
    """A signed-in console in its own browser context; fails on any page error."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(TIMEOUT_S * 1000)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        if route is not None:
            page.route_web_socket(re.compile(r"/ws/agent$"), route)
        page.goto(desk.url + "/console/")
        sign_in(page, who)
        yield page
        assert errors == [], errors
    finally:
        context.close()


def sign_in(page: Page, who: tuple[str, str, str]) -> None:
    email, password, name = who
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#me")).to_have_text(name)


def ticket_in(page: Page, view: str, ticket: int):
    return page.locator(f'#list-body[data-list="{view}"] [data-ticket="{ticket}"]')


def show(page: Page, view: str) -> None:
    page.locator(f'#views [data-view="{view}"]').click()


def composer(page: Page):
    return page.locator("#composer-input")


def write(page: Page, text: str) -> None:
    composer(page).fill(text)
    composer(page).press("Enter")


# --------------------------------------------------------------------------- tests


def test_sign_in_refuses_a_wrong_password(desk: Server, browser: Browser) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(desk.url + "/console/")
        page.get_by_label("E-mail").fill("ana@example.com")
        page.get_by_label("Password").fill("not-her-password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#login-error")).to_have_text("Wrong e-mail or password.")
        expect(page.locator("#desk")).to_be_hidden()
    finally:
        context.close()


def test_agent_claims_replies_labels_and_notes_live(desk: Server, browser: Browser) -> None:
    with console(browser, desk, ANA) as ana, console(browser, desk, BO) as bo:
        ana.evaluate("window.__sameDocument = true")
        with visitor(desk) as v:
            ticket = v.say("Hello, where is my order?")

            # In New within a second, without a reload, on both consoles.
            expect(ticket_in(ana, "new", ticket)).to_be_visible(timeout=1000)
            expect(ticket_in(bo, "new", ticket)).to_be_visible(timeout=1000)
            assert ana.evaluate("window.__sameDocument") is True

            ticket_in(ana, "new", ticket).click()
            expect(ana.locator("#events")).to_contain_text("Hello, where is my order?")
            ana.get_by_role("button", name="Claim").click()
            expect(ana.locator("#conv-status")).to_have_text("open")
            expect(ticket_in(ana, "new", ticket)).to_have_count(0)

            # Bo sees it move to Team live.
            show(bo, "team")
            expect(ticket_in(bo, "team", ticket)).to_be_visible()
            expect(ticket_in(bo, "team", ticket)).to_contain_text("Ana")

            write(ana, "It ships today.")
            assert v.message("It ships today.")["author"]["name"] == "Ana"
            expect(ana.locator("#events .msg.out")).to_contain_text("It ships today.")

            label = ana.get_by_label("Add a label")
            label.fill("vip")
            label.press("Enter")
            expect(ana.locator('#d-labels .chip[data-label="vip"]')).to_be_visible()
            expect(ana.locator("#events .sys-labels")).to_contain_text("vip")

            ana.get_by_role("tab", name="Internal note").click()
            write(ana, "SECRET: refund approved by finance")
            note = ana.locator("#events .note")
            expect(note).to_contain_text("SECRET: refund approved by finance")

            # The customer, edited in place, and a note about them for the team.
            ana.get_by_role("button", name=re.compile("^Customer name")).click()
            ana.get_by_label("Customer name", exact=True).fill("Maria Lopez")
            ana.get_by_label("Customer name", exact=True).press("Enter")
            expect(ana.locator("#conv-name")).to_have_text("Maria Lopez")
            expect(ticket_in(bo, "team", ticket)).to_contain_text("Maria Lopez")
            about = ana.get_by_label("Add a note about this customer")
            about.fill("SECRET: prefers e-mail over phone")
            about.press("Enter")
            expect(ana.locator("#d-notes .side-note")).to_contain_text("prefers e-mail")

            # A public reply after the note: once the visitor has it, the note would have
            # arrived before it if it leaked.
            ana.get_by_role("tab", name="Reply").click()
            write(ana, "Anything else I can do?")
            v.message("Anything else I can do?")
            assert v.request({"type": "sync", "after_seq": 0})["events"]
            leaked = [f for f in v.frames if "SECRET" in json.dumps(f) or "vip" in json.dumps(f)]
            assert leaked == []
            kinds = {f["event"]["kind"] for f in v.frames if f["type"] == "event"}
            assert kinds <= {"message", "status"}

            # The visitor's answer reaches the open conversation live.
            v.send({"type": "typing", "on": True})
            expect(ana.locator("#typing")).to_contain_text("is typing")
            v.say("No, thanks!")
            expect(ana.locator("#events .msg.in").last).to_contain_text("No, thanks!")
            expect(ana.locator("#typing")).to_be_hidden()

            # Bo reads along (notes included) but must ask to write.
            ticket_in(bo, "team", ticket).click()
            expect(bo.locator("#events")).to_contain_text("It ships today.")
            expect(bo.locator("#events .note")).to_contain_text("SECRET")
            expect(bo.locator("#composer-lock")).to_contain_text("Ana is handling this chat")
            expect(bo.get_by_role("button", name="Request access")).to_be_visible()

            # Status switch.
            ana.get_by_role("group", name="Status").get_by_role("button", name="Pending").click()
            expect(ana.locator("#conv-status")).to_have_text("pending")
            show(ana, "pending")
            expect(ticket_in(ana, "pending", ticket)).to_be_visible()


def test_drafts_and_unsent_messages_survive_a_dropped_connection(
    desk: Server, browser: Browser
) -> None:
    sockets: list[WebSocketRoute] = []
    blocked = {"now": False}

    def route(ws: WebSocketRoute) -> None:
        sockets.append(ws)
        if not blocked["now"]:
            ws.connect_to_server()

    with console(browser, desk, ANA, route) as ana, visitor(desk) as v:
        ticket = v.say("Is anybody there?")
        ticket_in(ana, "new", ticket).click()
        ana.get_by_role("button", name="Claim").click()
        expect(ana.locator("#conv-status")).to_have_text("open")

        # The connection drops and the next one hangs: the banner says so.
        blocked["now"] = True
        sockets[-1].close(code=4000, reason="network gone")
        expect(ana.locator("#banner")).to_be_visible()

        # What is sent meanwhile waits in the outbox; the draft of the composer stays.
        write(ana, "Yes, I am here.")
        pending = ana.locator("#pending [data-pending]")
        expect(pending).to_contain_text("Waiting for the connection")
        composer(ana).fill("half a thought")

        # The server is back (1012: reconnect at once): the outbox goes out, once.
        blocked["now"] = False
        sockets[-1].close(code=1012, reason="restart")
        expect(ana.locator("#banner")).to_be_hidden()
        assert v.message("Yes, I am here.")["author"]["name"] == "Ana"
        expect(ana.locator("#events .msg.out")).to_have_text(re.compile("Yes, I am here."))
        expect(pending).to_have_count(0)
        expect(composer(ana)).to_have_value("half a thought")

        # A reload keeps the draft too.
        ana.reload()
        expect(ana.locator("#me")).to_have_text("Ana")
        expect(ana.locator("#conv-status")).to_have_text("open")
        expect(composer(ana)).to_have_value("half a thought")
        expect(ana.locator("#events .msg.out")).to_have_count(1)


def test_a_chat_pushed_while_the_lists_load_is_kept(desk: Server, browser: Browser) -> None:
    """A chat whose `queue` push lands while the console's first lists are on their way
    (read before the chat existed) stays in New when those lists arrive."""
    held: list[tuple[Route, APIResponse]] = []
    queue_frames: list[str] = []

    def hold_first_lists(route: Route) -> None:
        if len(held) < 3:  # new, open+pending, solved: answered later, as read now
            held.append((route, route.fetch()))
        else:
            route.continue_()

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(TIMEOUT_S * 1000)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "websocket",
            lambda ws: ws.on(
                "framereceived",
                lambda payload: (
                    queue_frames.append(payload)
                    if isinstance(payload, str) and '"type":"queue"' in payload
                    else None
                ),
            ),
        )
        page.route(re.compile(r"/api/v1/tickets\?"), hold_first_lists)
        page.goto(desk.url + "/console/")
        sign_in(page, ANA)
        for _ in range(int(TIMEOUT_S * 10)):
            if len(held) == 3:
                break
            page.wait_for_timeout(100)
        assert len(held) == 3
        with visitor(desk) as v:
            chat = v.say("Anyone there while you load?")
            for _ in range(int(TIMEOUT_S * 10)):
                if any(f'"id":{chat},' in f for f in queue_frames):
                    break
                page.wait_for_timeout(100)
            assert any(f'"id":{chat},' in f for f in queue_frames)
            for route, response in held:
                route.fulfill(response=response)
            expect(ticket_in(page, "new", chat)).to_be_visible()
        assert errors == [], errors
    finally:
        context.close()


def test_sign_out_returns_to_the_form(desk: Server, browser: Browser) -> None:
    with console(browser, desk, BO) as bo:
        bo.get_by_role("button", name="Log out").click()
        expect(bo.get_by_role("button", name="Sign in")).to_be_visible()
        r = bo.request.get(desk.url + "/api/v1/tickets")
        assert r.status == 401


def test_canned_response_by_shortcut(desk: Server, browser: Browser) -> None:
    with console(browser, desk, ANA) as ana, visitor(desk, name="Maria") as v:
        # Ana makes her own canned response in Settings.
        ana.get_by_role("link", name="Settings").click()
        ana.get_by_role("link", name="My canned responses").click()
        form = ana.locator(".admin-form")
        form.get_by_label("Shortcut").fill("/thx")
        form.get_by_label("Title").fill("Thanks")
        form.get_by_label("Text").fill("Thanks {{customer.name}}, have a nice day!")
        form.get_by_role("button", name="Add").click()
        expect(ana.locator(".table")).to_contain_text("/thx")
        ana.get_by_role("button", name="Back to chats").click()

        ticket = v.say("Thanks for the help")
        ticket_in(ana, "new", ticket).click()
        ana.get_by_role("button", name="Claim").click()
        expect(ana.locator("#conv-status")).to_have_text("open")
        composer(ana).press_sequentially("/th")
        option = ana.locator("#canned [role=option]").first
        expect(option).to_contain_text("/thx")
        composer(ana).press("Enter")
        expect(composer(ana)).to_have_value("Thanks Maria, have a nice day!")
        composer(ana).press("Enter")
        assert v.message("Thanks Maria, have a nice day!")["author"]["name"] == "Ana"


def test_request_access_then_grant_lets_a_teammate_reply(
    desk: Server, browser: Browser, tokens
) -> None:
    with connect(desk.ws("/ws/agent"), subprotocols=["chatdesk.json"]) as probe:
        probe.send(json.dumps({"type": "hello", "token": tokens["bo"]}))
        json.loads(probe.recv(timeout=TIMEOUT_S))
        probe.send(json.dumps({"type": "request_access", "rid": "p", "ticket": 2**30}))
        while (answer := json.loads(probe.recv(timeout=TIMEOUT_S))).get("rid") != "p":
            pass
    # The server handles request_access: an unknown ticket is not_found, never "unknown type".
    assert answer.get("code") == "not_found", answer

    with console(browser, desk, ANA) as ana, console(browser, desk, BO) as bo, visitor(desk) as v:
        ticket = v.say("I need two experts")
        ticket_in(ana, "new", ticket).click()
        ana.get_by_role("button", name="Claim").click()
        expect(ana.locator("#conv-status")).to_have_text("open")

        bo.goto(f"{desk.url}/console/#/t/{ticket}")
        bo.get_by_role("button", name="Request access").click()
        prompt = ana.get_by_role("alertdialog")
        expect(prompt).to_contain_text("Bo asks to join")
        prompt.get_by_role("button", name="Grant").click()
        expect(prompt).to_be_hidden()

        expect(bo.locator("#composer-input")).to_be_enabled()
        write(bo, "Bo here, I can help with that.")
        assert v.message("Bo here, I can help with that.")["author"]["name"] == "Bo"
        expect(ana.locator("#events .msg.out").last).to_contain_text("Bo here")


def test_screenshot_of_the_main_screen(make_backend, browser: Browser) -> None:
    """docs/console.png, from a desk of its own so the lists show only this scene."""
    backend = make_backend("sqlite", "console-screenshot")
    server = Server(backend).start()
    reply = (
        "It is held at the carrier's hub in Lyon. I've asked them to send it today, "
        "and you'll get a tracking e-mail within the hour."
    )
    try:
        backend.cli("agent", "add", "ana@example.com", "--name", "Ana", "--password", ANA[1])
        backend.cli("agent", "add", "bo@example.com", "--name", "Bo", "--password", BO[1])
        with (
            console(browser, server, ANA) as ana,
            console(browser, server, BO) as bo,
            visitor(server, "Maria Lopez", "https://shop.example/orders/4411") as maria,
            visitor(server, "Jonas Berg") as jonas,
            visitor(server, "Priya Natarajan") as priya,
            visitor(server, "Tom Becker") as tom,
            visitor(server) as anon,
        ):
            team = jonas.say("Can I change the delivery address after ordering?")
            ticket_in(bo, "new", team).click()
            bo.get_by_role("button", name="Claim").click()
            expect(bo.locator("#conv-status")).to_have_text("open")

            earlier = priya.say("Do you ship to Norway?")
            ticket_in(ana, "new", earlier).click()
            ana.get_by_role("button", name="Claim").click()
            write(ana, "We do! Delivery to Norway takes 3 to 5 working days.")
            priya.message("We do! Delivery to Norway takes 3 to 5 working days.")

            ticket = maria.say("Hi! My order #4411 was due yesterday and it has not arrived.")
            ticket_in(ana, "new", ticket).click()
            ana.get_by_role("button", name="Claim").click()
            expect(ana.locator("#conv-status")).to_have_text("open")
            write(ana, "Hi Maria, sorry about that! Let me look up #4411 for you.")
            maria.message("Hi Maria, sorry about that! Let me look up #4411 for you.")
            ana.get_by_role("tab", name="Internal note").click()
            write(ana, "Carrier shows it stuck at the Lyon hub since Monday.")
            ana.get_by_role("tab", name="Reply").click()
            for name in ("shipping", "vip"):
                ana.get_by_label("Add a label").fill(name)
                ana.get_by_label("Add a label").press("Enter")
                expect(ana.locator(f'#d-labels .chip[data-label="{name}"]')).to_be_visible()
            about = ana.get_by_label("Add a note about this customer")
            about.fill("Long-time customer; prefers e-mail updates.")
            about.press("Enter")
            expect(ana.locator("#d-notes .side-note")).to_be_visible()
            write(ana, reply)
            maria.send({"type": "read", "seq": maria.message(reply)["seq"]})
            maria.say("Great, thank you so much!")
            priya.say("And is shipping free above 50 euros?")
            tom.say("My discount code WINTER10 does not work at checkout")
            anon.say("hello?")
            maria.send({"type": "typing", "on": True})
            expect(ana.locator("#typing")).to_be_visible()
            show(ana, "open")
            expect(ticket_in(ana, "open", earlier)).to_have_class(re.compile("unread"))
            composer(ana).fill("Is there anything else I can help with?")
            composer(ana).blur()
            DOCS.mkdir(exist_ok=True)
            ana.screenshot(path=str(DOCS / "console.png"))
    finally:
        server.stop()
