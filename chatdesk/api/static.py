"""The widget and the console: static files served by the desk itself (no CDN)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from chatdesk.api.common import desk
from chatdesk.errors import NotFound

ROOT = Path(__file__).resolve().parent.parent.parent
WIDGET = ROOT / "widget"
CONSOLE = ROOT / "console"


async def widget_js(request: Request) -> Response:
    return FileResponse(
        WIDGET / "loader.js",
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )


async def widget_frame(request: Request) -> Response:
    """The chat panel: framed only by the site's allowed origins."""
    key = request.query_params.get("site", "")
    try:
        site = await desk(request).customers.site(key)
    except Exception:
        raise NotFound("unknown site") from None
    ancestors = " ".join(site.origins) or "'self'"
    if site.origins:
        ancestors = "'self' " + ancestors
    html = (WIDGET / "frame.html").read_text()
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": (
                "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                f"script-src 'self'; connect-src 'self' ws: wss:; frame-ancestors {ancestors}"
            ),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


async def console_root(request: Request) -> Response:
    return RedirectResponse("/console/", status_code=308)


async def demo(request: Request) -> Response:
    d = desk(request)
    if not d.settings.demo:
        raise NotFound("nothing here; the console is at /console/")
    page = ROOT / "widget" / "demo.html"
    key = getattr(d, "demo_site_key", None) or ""
    return HTMLResponse(page.read_text().replace("{{SITE_KEY}}", key))


routes = [
    Route("/", demo),
    Route("/widget.js", widget_js),
    Route("/widget/frame", widget_frame),
    Mount("/widget", app=StaticFiles(directory=WIDGET, check_dir=False), name="widget"),
    Route("/console", console_root),
    Mount(
        "/console", app=StaticFiles(directory=CONSOLE, html=True, check_dir=False), name="console"
    ),
]
