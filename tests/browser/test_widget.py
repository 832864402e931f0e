"""The embeddable widget in Debian's chromium, on a host page of another origin.

The host page is served by a small HTTP server on its own port (another origin than
the desk); the agent is a plain WebSocket client speaking the agent channel.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    FrameLocator,
    Page,
    expect,
)
from websockets.sync.client import ClientConnection, connect

from tests.servers import Server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

TIMEOUT_S = float(os.environ.get("CHATDESK_TEST_TIMEOUT", "10"))
T = TIMEOUT_S * 1000  # Playwright wants milliseconds
DOCS = Path(__file__).resolve().parents[2] / "docs"
XSS = "<img src=x onerror=\"window.pwned=1;alert('pwned')\">"
HOSTILE_CSS = """
button { display: none !important; }
div { font-size: 40px !important; color: red !important; }
* { margin: 13px !important; padding: 17px !important; box-sizing: content-box !important;
    border: 4px solid lime !important; line-height: 3 !important; letter-spacing: 3px !important;
    font-family: serif !important; text-transform: uppercase !important;
    visibility: hidden !important; pointer-events: none !important; cursor: wait !important; }
html { font-size: 40px !important; }
body { transform: rotate(2deg) !important; filter: blur(2px) !important; opacity: .4 !important;
       width: 200px !important; overflow: hidden !important; position: relative !important;
       z-index: 2147483647 !important; }
iframe { display: none !important; }
"""


STYLE_PROPS = [
    "display",
    "visibility",
    "opacity",
    "width",
    "height",
    "backgroundColor",
    "color",
    "borderRadius",
    "margin",
    "padding",
    "transform",
    "fontSize",
    "pointerEvents",
    "cursor",
]


def cid() -> str:
    return uuid.uuid4().hex


# --------------------------------------------------------------------------- host pages


@dataclass
class Host:
    """Pages served from another origin than the desk's, as a customer's site would be."""

    server: ThreadingHTTPServer
    pages: dict[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def page(self, html: str) -> str:
        path = f"/{uuid.uuid4().hex[:12]}.html"
        self.pages[path] = html
        return self.origin + path


def embed(desk_url: str, key: str, css: str = "", lead: str = "", calls: str = "") -> str:
    """A host page: the command-queue stub first (calls before the script loads are kept)."""
    style = f"<style>{css}</style>" if css else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Host shop</title>{style}</head>
<body>{lead}<h1>Host shop</h1><div><p>Some text of the host page.</p></div>
<script>
  window.chatdesk = window.chatdesk
    || function () {{ (chatdesk.q = chatdesk.q || []).push(arguments); }};
  window.got = [];
  chatdesk("on", "message", function (m) {{ window.got.push(m); }});
  {calls}
</script>
<script src="{desk_url}/widget.js" data-site="{key}" async></script>
</body></html>"""


@pytest.fixture(scope="session")
def host() -> Iterator[Host]:
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path.split("?")[0])
            if body is None:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Host(server, pages)
    server.shutdown()
    server.server_close()
    thread.join(5)


def add_site(server: Server, origin: str) -> tuple[str, str]:
    """A site whose widget may be framed by `origin`: its key and identity secret."""
    out = server.backend.cli("site", "add", "Host shop", "--origin", origin)
    secret = re.search(r"identity secret:\s*(\S+)", out)
    assert secret, out
    return out.strip().splitlines()[-1].strip(), secret.group(1)


@pytest.fixture(scope="session")
def host_site(desk: Server, host: Host) -> str:
    return add_site(desk, host.origin)[0]


# --------------------------------------------------------------------------- the agent side


class Agent:
    """A synchronous agent-channel client: pushes are kept in order, answers matched by rid."""

    def __init__(self, server: Server, token: str) -> None:
        self._stack = contextlib.ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(
            connect(server.ws("/ws/agent"), subprotocols=["chatdesk.json"], open_timeout=TIMEOUT_S)
        )
        self.pushes: list[dict[str, Any]] = []
        self.rid = 0
        self.ws.send(json.dumps({"type": "hello", "token": token}))
        self.welcome = self.next(lambda f: f["type"] in ("welcome", "error"))
        assert self.welcome["type"] == "welcome", self.welcome

    def next(self, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        for i, frame in enumerate(self.pushes):
            if match(frame):
                return self.pushes.pop(i)
        while True:
            frame = json.loads(self.ws.recv(timeout=TIMEOUT_S))
            if match(frame):
                return frame
            self.pushes.append(frame)

    def ok(self, frame: dict[str, Any]) -> dict[str, Any]:
        self.rid += 1
        rid = frame["rid"] = str(self.rid)
        self.ws.send(json.dumps(frame))
        answer = self.next(lambda f: f.get("rid") == rid and f["type"] in ("ok", "error"))
        assert answer["type"] == "ok", answer
        return answer

    def send(self, frame: dict[str, Any]) -> None:
        self.ws.send(json.dumps(frame))

    def ticket_of(self, first_message: str) -> int:
        """The id of the new ticket whose first message is `first_message`."""
        queued = self.next(
            lambda f: f["type"] == "queue" and f["ticket"].get("subject") == first_message
        )
        return queued["ticket"]["id"]

    def answer(self, ticket: int, body: str) -> None:
        self.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": body})

    def close(self) -> None:
        self._stack.close()


def messages(server: Server, token: str, ticket: int) -> list[str]:
    r = server.get(f"/api/v1/tickets/{ticket}/events", token)
    assert r.status_code == 200, r.text
    return [e["body"] for e in r.json()["items"] if e["kind"] == "message"]


# --------------------------------------------------------------------------- the visitor side


class Visitor:
    """One browser context on a host page, and the widget inside it."""

    def __init__(self, browser: Browser, url: str, **context: Any) -> None:
        self.context: BrowserContext = browser.new_context(**context)
        self.page: Page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", self._console)
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)
        self.frame: FrameLocator = self.page.frame_locator("chatdesk-widget iframe")
        self.composer = self.frame.get_by_role("textbox", name="Message")

    def _console(self, message: ConsoleMessage) -> None:
        # failed loads (favicon, refused uploads) and refused sockets (server down) are expected
        expected = ("Failed to load resource", "WebSocket connection to")
        if message.type == "error" and not message.text.startswith(expected):
            self.errors.append(message.text)  # uncaught errors, CSP violations in the frame

    def assert_clean(self) -> None:
        assert self.dialogs == [], self.dialogs
        assert self.errors == [], self.errors

    def launcher(self, name: str | re.Pattern[str] = re.compile("chat")):
        return self.page.get_by_role("button", name=name)

    def open(self) -> None:
        self.launcher("Open chat").click()
        expect(self.composer).to_be_focused(timeout=T)

    def say(self, body: str) -> None:
        self.composer.fill(body)
        self.composer.press("Enter")
        expect(self.composer).to_have_value("")

    def shown(self, text: str):
        return self.frame.locator(".bubble").filter(has_text=text)

    def close(self) -> None:
        self.context.close()


# --------------------------------------------------------------------------- tests


def test_visitor_and_agent_talk_through_the_widget(desk, tokens, browser, host, host_site):
    ana = Agent(desk, tokens["ana"])
    v = Visitor(browser, host.page(embed(desk.url, host_site)), locale="en-US")
    try:
        launcher = v.launcher("Open chat")
        expect(launcher).to_be_visible(timeout=T)
        expect(launcher).to_have_attribute("aria-expanded", "false")
        # the closed panel takes no clicks and no focus from the host page
        assert v.page.evaluate("document.elementFromPoint(1000, 300).tagName") != "CHATDESK-WIDGET"
        v.open()
        expect(v.frame.get_by_role("dialog", name="Chat with support")).to_be_visible()
        expect(v.page.locator("chatdesk-widget iframe")).to_have_attribute(
            "title", "Chat with support"
        )
        assert v.page.evaluate("document.elementFromPoint(1000, 300).tagName") == "CHATDESK-WIDGET"
        expect(v.frame.get_by_role("log")).to_have_attribute("aria-live", "polite")

        first = f"Where is my order? {cid()}"
        v.say(first)
        expect(v.shown(first)).to_be_visible()
        expect(v.frame.get_by_text("Sent", exact=False)).to_be_visible(timeout=T)
        ticket = ana.ticket_of(first)

        ana.ok({"type": "claim", "ticket": ticket})
        expect(v.frame.get_by_text("Ana joined the conversation")).to_be_visible(timeout=T)
        expect(v.frame.locator("#title")).to_have_text("Ana")
        ana.send({"type": "typing", "ticket": ticket, "on": True})
        expect(v.frame.get_by_text("Ana is typing…")).to_be_visible(timeout=T)
        ana.answer(ticket, "Hi, this is Ana. It ships today.")
        expect(v.shown("Hi, this is Ana. It ships today.")).to_be_visible(timeout=T)
        expect(v.frame.get_by_text("Ana is typing…")).to_be_hidden()
        expect(v.frame.locator(".row.me .meta").last).to_contain_text("Seen")

        # Escape closes and gives the focus back to the launcher; news while closed: a badge
        v.composer.press("Escape")
        expect(launcher).to_be_focused()
        expect(launcher).to_have_attribute("aria-expanded", "false")
        ana.answer(ticket, "Tracking number follows.")
        expect(v.launcher("Open chat (1 unread)")).to_be_visible(timeout=T)
        v.page.wait_for_function("window.got.length >= 2", timeout=T)
        got = v.page.evaluate("window.got")
        assert [m["body"] for m in got] == [
            "Hi, this is Ana. It ships today.",
            "Tracking number follows.",
        ]
        assert got[0]["author"]["name"] == "Ana"
        v.page.evaluate("chatdesk('open')")
        expect(v.shown("Tracking number follows.")).to_be_visible()
        expect(v.launcher("Close chat")).to_be_visible()
        v.page.evaluate("chatdesk('close')")
        expect(v.launcher("Open chat")).to_be_visible()

        assert messages(desk, tokens["ana"], ticket) == [
            first,
            "Hi, this is Ana. It ships today.",
            "Tracking number follows.",
        ]
        # the visitor token lives in the frame's storage, never in a URL
        frame = next(f for f in v.page.frames if "/widget/frame" in f.url)
        token = frame.evaluate(
            "Object.keys(localStorage).filter(k => k.endsWith(':token'))"
            ".map(k => JSON.parse(localStorage.getItem(k)))[0]"
        )
        assert token and len(token) >= 16
        assert not [u for u in v.requests if token in u]
        # and everything comes from the host page or the desk: no third party
        origins = {re.match(r"https?://[^/]+", u).group(0) for u in v.requests}
        assert origins <= {host.origin, desk.url}, origins
        v.assert_clean()
    finally:
        v.close()
        ana.close()


def test_markup_is_shown_as_text_and_never_runs(desk, tokens, browser, host, host_site):
    bo = Agent(desk, tokens["bo"])
    v = Visitor(browser, host.page(embed(desk.url, host_site)))
    try:
        v.open()
        v.say(XSS)
        ticket = bo.ticket_of(XSS)
        bo.ok({"type": "claim", "ticket": ticket})
        bo.answer(ticket, "<b>bold?</b> " + XSS)
        expect(v.shown("<b>bold?</b> " + XSS)).to_be_visible(timeout=T)
        expect(v.shown(XSS)).to_have_count(2)
        expect(v.frame.locator("img, b")).to_have_count(0)
        # web addresses become links, and nothing else does
        bo.answer(ticket, "Track it at https://example.com/t?id=1. Not javascript:alert(1) though")
        link = v.shown("Track it at").locator("a")
        expect(link).to_have_count(1, timeout=T)
        expect(link).to_have_attribute("href", "https://example.com/t?id=1")
        expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
        expect(link).to_have_text("https://example.com/t?id=1")
        frame = next(f for f in v.page.frames if "/widget/frame" in f.url)
        assert frame.evaluate("window.pwned") is None
        assert v.page.evaluate("window.pwned") is None
        assert v.page.locator("img").count() == 0
        v.assert_clean()
    finally:
        v.close()
        bo.close()


def ticket_with_subject(server: Server, token: str, subject: str) -> dict[str, Any]:
    items = server.get("/api/v1/tickets", token).json()["items"]
    return next(t for t in items if t["subject"] == subject)


def test_identity_reaches_the_desk_and_a_stale_token_starts_over(desk, tokens, browser, host):
    key, secret = add_site(desk, host.origin)

    def identity(external_id: str, name: str, email: str) -> dict[str, str]:
        sign = hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()
        return {"external_id": external_id, "name": name, "email": email, "hmac": sign}

    settings = {"identity": identity("u-42", "Lee Park", "lee@example.com")}
    lead = f"<script>window.chatdeskSettings = {json.dumps(settings)};</script>"
    page = embed(desk.url, key, lead=lead, calls="chatdesk('open');")
    v = Visitor(browser, host.page(page))
    try:
        expect(v.composer).to_be_focused(timeout=T)  # opened by a call queued before loading
        first = f"Signed in, me {cid()}"
        v.say(first)
        expect(v.frame.locator(".row.me .meta").last).to_contain_text("Sent", timeout=T)
        customer = ticket_with_subject(desk, tokens["admin"], first)["customer"]
        assert (customer["name"], customer["email"]) == ("Lee Park", "lee@example.com")

        # a token the server no longer knows: refused (4401), dropped, and a fresh start
        stored = f"chatdesk:{key}:token"
        frame = next(f for f in v.page.frames if "/widget/frame" in f.url)
        frame.evaluate("k => localStorage.setItem(k, JSON.stringify('stale-token'))", stored)
        v.page.reload()
        expect(v.composer).to_be_focused(timeout=T)
        frame = next(f for f in v.page.frames if "/widget/frame" in f.url)
        frame.wait_for_function(
            "k => ![null, 'stale-token'].includes(JSON.parse(localStorage.getItem(k)))",
            arg=stored,
            timeout=T,
        )
        # chatdesk('identify') after loading: the widget says hello again with it
        v.page.evaluate("i => chatdesk('identify', i)", identity("u-77", "Max", "max@example.com"))
        second = f"New here {cid()}"
        v.say(second)
        expect(v.frame.locator(".row.me .meta").last).to_contain_text("Sent", timeout=T)
        customer = ticket_with_subject(desk, tokens["admin"], second)["customer"]
        assert (customer["name"], customer["email"]) == ("Max", "max@example.com")
        v.assert_clean()
    finally:
        v.close()


def look(v: Visitor) -> dict[str, Any]:
    """How the widget looks: boxes and computed styles of the launcher and the panel."""
    launcher = v.launcher("Open chat")
    expect(launcher).to_be_visible(timeout=T)
    style = "(e, props) => { const s = getComputedStyle(e); return props.map(p => s[p]) }"
    seen: dict[str, Any] = {
        "launcher": launcher.bounding_box(),
        "launcher_style": launcher.evaluate(style, STYLE_PROPS),
    }
    v.open()
    iframe = v.page.locator("chatdesk-widget iframe")
    iframe.evaluate("e => Promise.all(e.parentElement.getAnimations().map(a => a.finished))")
    seen["panel"] = iframe.bounding_box()
    seen["panel_style"] = iframe.evaluate(style, STYLE_PROPS)
    seen["composer"] = v.composer.bounding_box()
    seen["composer_style"] = v.composer.evaluate(style, STYLE_PROPS)
    body = f"Styled or not? {cid()}"
    v.say(body)
    expect(v.shown(body)).to_be_visible()
    expect(v.frame.locator(".row.me .meta").last).to_contain_text("Sent", timeout=T)
    v.composer.press("Escape")
    expect(launcher).to_be_focused()
    return seen


def test_hostile_host_css_changes_nothing(desk, browser, host, host_site):
    plain = Visitor(browser, host.page(embed(desk.url, host_site)))
    try:
        before = look(plain)
    finally:
        plain.close()
    hostile = Visitor(browser, host.page(embed(desk.url, host_site, css=HOSTILE_CSS)))
    try:
        # the hostile rules do apply to the host page itself
        assert hostile.page.locator("div").first.evaluate("e => getComputedStyle(e).fontSize") == (
            "40px"
        )
        after = look(hostile)
    finally:
        hostile.close()
    assert after == before


def test_messages_typed_while_the_server_restarts_arrive_once(make_backend, browser, host):
    server = Server(make_backend("sqlite", "widget-restart")).start()
    agent: Agent | None = None
    v: Visitor | None = None
    try:
        key, _ = add_site(server, host.origin)
        token = server.login()
        v = Visitor(browser, host.page(embed(server.url, key)))
        v.open()
        # nobody online: the widget asks for an address, and the message still makes a ticket
        expect(v.frame.get_by_text("No agent is online right now.")).to_be_visible(timeout=T)
        v.frame.get_by_role("textbox", name="Email address").fill("kim@example.com")
        v.frame.get_by_role("button", name="Save").click()
        expect(v.frame.get_by_text("Thanks! We will reply to kim@example.com.")).to_be_visible()
        first = f"Is anyone there? {cid()}"
        v.composer.click()
        v.say(first)
        expect(v.frame.locator(".row.me .meta").last).to_contain_text("Sent", timeout=T)

        agent = Agent(server, token)
        expect(v.frame.get_by_text("We will reply to kim@example.com.")).to_be_hidden(timeout=T)
        ticket = next(
            t["id"]
            for t in server.get("/api/v1/tickets", token).json()["items"]
            if t["subject"] == first
        )
        assert server.get(f"/api/v1/tickets/{ticket}", token).json()["customer"]["email"] == (
            "kim@example.com"
        )
        agent.ok({"type": "claim", "ticket": ticket})
        expect(v.frame.get_by_text("Admin joined the conversation")).to_be_visible(timeout=T)

        server.kill()
        agent.close()
        agent = None
        expect(v.frame.get_by_text("Connection lost. Reconnecting…")).to_be_visible(timeout=T)
        v.say("typed while down, one")
        v.say("typed while down, two")
        expect(v.frame.get_by_text("Sending…")).to_have_count(2)

        server.start()
        agent = Agent(server, token)
        agent.answer(ticket, "Back again, sorry for that.")
        expect(v.shown("Back again, sorry for that.")).to_be_visible(timeout=3 * T)
        expect(v.frame.get_by_text("Sending…")).to_have_count(0, timeout=3 * T)
        expect(v.frame.get_by_text("Connection lost. Reconnecting…")).to_be_hidden()
        for text in ("typed while down, one", "typed while down, two", "Back again"):
            expect(v.shown(text)).to_have_count(1)
        # a graceful restart (SIGTERM: the server closes with 1012) is just as quiet
        server.stop()
        server.start()
        agent.close()
        agent = Agent(server, token)
        agent.answer(ticket, "One more restart, all good?")
        expect(v.shown("One more restart, all good?")).to_be_visible(timeout=3 * T)
        v.say("All good here")
        expect(v.frame.locator(".row.me .meta").last).to_contain_text("Sent", timeout=3 * T)

        stored = messages(server, token, ticket)
        assert sorted(stored) == sorted(
            [
                first,
                "typed while down, one",
                "typed while down, two",
                "Back again, sorry for that.",
                "One more restart, all good?",
                "All good here",
            ]
        )
        assert stored.index("typed while down, one") < stored.index("typed while down, two")
        v.assert_clean()
    finally:
        if v is not None:
            v.close()
        if agent is not None:
            agent.close()
        server.stop()


def test_keyboard_only_on_a_small_screen_in_german(desk, browser, host, host_site):
    v = Visitor(
        browser,
        host.page(embed(desk.url, host_site)),
        locale="de-DE",
        viewport={"width": 360, "height": 740},
        reduced_motion="reduce",
    )
    try:
        launcher = v.launcher("Chat öffnen")
        expect(launcher).to_be_visible(timeout=T)
        v.page.keyboard.press("Tab")
        expect(launcher).to_be_focused()
        v.page.keyboard.press("Enter")
        composer = v.frame.get_by_role("textbox", name="Nachricht")
        expect(composer).to_be_focused(timeout=T)
        v.page.keyboard.type("Zeile eins")
        v.page.keyboard.press("Shift+Enter")
        v.page.keyboard.type("Zeile zwei")
        expect(composer).to_have_value("Zeile eins\nZeile zwei")
        v.page.keyboard.press("Enter")
        expect(v.shown("Zeile eins\nZeile zwei")).to_be_visible()
        expect(v.frame.locator(".row.me .meta").last).to_contain_text("Gesendet", timeout=T)
        iframe = v.page.locator("chatdesk-widget iframe")
        assert iframe.evaluate("e => getComputedStyle(e.parentElement).transitionDuration") == "0s"
        box = iframe.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
        send = v.frame.get_by_role("button", name="Senden").bounding_box()
        assert send is not None and send["x"] + send["width"] <= 360
        v.page.keyboard.press("Escape")
        expect(launcher).to_be_focused()
        v.assert_clean()
    finally:
        v.close()
    fr = Visitor(browser, host.page(embed(desk.url, host_site)), locale="fr-FR")
    try:
        expect(fr.launcher("Ouvrir le chat")).to_be_visible(timeout=T)
    finally:
        fr.close()


def test_uploads_show_progress_and_errors_in_words(desk, tokens, browser, host, host_site):
    v = Visitor(browser, host.page(embed(desk.url, host_site)))
    try:
        v.open()
        frame = next(f for f in v.page.frames if "/widget/frame" in f.url)
        frame.evaluate(
            """() => { window.labels = [];
                new MutationObserver(() => document.querySelectorAll("#files .label")
                    .forEach(l => window.labels.push(l.textContent)))
                .observe(document.getElementById("files"), {childList: true, subtree: true}); }"""
        )
        v.frame.locator("#file").set_input_files(
            files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello" * 20000}]
        )
        expect(v.frame.get_by_text("notes.txt is ready to send")).to_be_visible(timeout=T)
        assert any(re.fullmatch(r"Uploading notes.txt… \d+%", t) for t in frame.evaluate("labels"))
        # drag and drop onto the panel
        v.frame.locator("#panel").evaluate(
            """panel => {
                const dt = new DataTransfer();
                dt.items.add(new File(["dropped"], "dropped.txt", {type: "text/plain"}));
                for (const type of ["dragenter", "dragover", "drop"])
                    panel.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true}));
            }"""
        )
        expect(v.frame.get_by_text("dropped.txt is ready to send")).to_be_visible(timeout=T)
        expect(v.frame.locator("#drop")).to_be_hidden()

        # the server's refusal, in its words
        v.frame.locator("#file").set_input_files(
            files=[{"name": "page.html", "mimeType": "text/html", "buffer": b"<html><script>"}]
        )
        refused = v.frame.get_by_role("alert").filter(has_text="Could not upload page.html: ")
        expect(refused).to_be_visible(timeout=T)
        assert "{" not in refused.inner_text()
        v.frame.get_by_role("button", name="Remove page.html").click()
        expect(refused).to_have_count(0)
        # a server without the endpoint: a sentence, not "Not Found"
        v.context.route(
            "**/api/v1/visitor/uploads", lambda route: route.fulfill(status=404, body="Not Found")
        )
        v.frame.locator("#file").set_input_files(
            files=[{"name": "late.txt", "mimeType": "text/plain", "buffer": b"late"}]
        )
        missing = v.frame.get_by_role("alert").filter(has_text="Could not upload late.txt")
        expect(missing).to_have_text(
            "Could not upload late.txt: file uploads are not available on this server", timeout=T
        )
        v.frame.get_by_role("button", name="Remove late.txt").click()
        v.context.unroute("**/api/v1/visitor/uploads")

        body = f"Here are my notes {cid()}"
        v.say(body)
        expect(v.frame.locator(".row.me .meta").last).to_contain_text("Sent", timeout=T)
        links = v.shown(body).locator("a")
        expect(links).to_have_text(["notes.txt", "dropped.txt"])
        assert links.first.get_attribute("href").startswith(desk.url + "/files/")
        expect(v.frame.locator("#files li")).to_have_count(0)
        ticket = next(
            t["id"]
            for t in desk.get("/api/v1/tickets", tokens["admin"]).json()["items"]
            if t["subject"] == body
        )
        events = desk.get(f"/api/v1/tickets/{ticket}/events", tokens["admin"]).json()["items"]
        assert [a["filename"] for a in events[0]["attachments"]] == ["notes.txt", "dropped.txt"]
        v.assert_clean()
    finally:
        v.close()


def test_demo_page_screenshots(desk, tokens, browser):
    bo = Agent(desk, tokens["bo"])
    v = Visitor(browser, desk.url + "/", viewport={"width": 1280, "height": 800})
    try:
        launcher = v.launcher("Open chat")
        expect(launcher).to_be_visible(timeout=T)
        DOCS.mkdir(exist_ok=True)
        v.page.screenshot(path=str(DOCS / "widget-closed.png"))
        v.page.get_by_role("link", name="Talk to us").click()  # chatdesk('open') from the page
        expect(v.composer).to_be_focused(timeout=T)
        first = "Hi! Do you ship the Ridge 2 tent to Norway?"
        v.say(first)
        ticket = bo.ticket_of(first)
        bo.ok({"type": "claim", "ticket": ticket})
        bo.answer(ticket, "Hello! Yes, we ship to Norway within 3 to 5 working days.")
        v.say("Great, and is the shipping free?")
        expect(v.frame.locator(".row.me .meta").last).to_contain_text("Sent", timeout=T)
        bo.send({"type": "typing", "ticket": ticket, "on": True})
        expect(v.frame.get_by_text("Bo is typing…")).to_be_visible(timeout=T)
        v.composer.fill("Thanks")
        v.page.mouse.move(0, 0)
        v.page.screenshot(path=str(DOCS / "widget-open.png"))
    finally:
        v.close()
        bo.close()
