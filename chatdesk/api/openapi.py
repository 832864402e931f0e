"""GET /api/v1/openapi.json: the REST part of the contract, machine-readable."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatdesk import __version__

_ERROR = {"$ref": "#/components/schemas/Error"}


def _op(summary: str, params: list[str] | None = None, body: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {"description": "OK"},
            "default": {
                "description": "error",
                "content": {"application/json": {"schema": _ERROR}},
            },
        },
    }
    if params:
        op["parameters"] = [
            {
                "name": p,
                "in": "path" if p == "id" else "query",
                "required": p == "id",
                "schema": {"type": "string"},
            }
            for p in params
        ]
    if body:
        op["requestBody"] = {"content": {"application/json": {"schema": {"type": "object"}}}}
    return op


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "chatdesk", "version": __version__},
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["code", "detail"],
                    "properties": {"code": {"type": "string"}, "detail": {"type": "string"}},
                }
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "chatdesk_session"},
                "inbound": {"type": "http", "scheme": "inbound"},
                "metrics": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"bearer": []}, {"cookie": []}],
        "paths": {
            "/api/v1/auth/login": {"post": _op("Log in: a token and a session cookie", body=True)},
            "/api/v1/auth/logout": {"post": _op("Log out: revoke the session")},
            "/api/v1/tickets": {
                "get": _op(
                    "List tickets, newest first, by cursor",
                    [
                        "status",
                        "assignee",
                        "label",
                        "q",
                        "customer",
                        "created_after",
                        "created_before",
                        "cursor",
                        "limit",
                    ],
                )
            },
            "/api/v1/tickets/{id}": {"get": _op("One ticket", ["id"])},
            "/api/v1/tickets/{id}/events": {
                "get": _op("A ticket's timeline after a seq", ["id", "after_seq", "limit"])
            },
            "/api/v1/canned": {
                "get": _op(
                    "Canned responses the caller may use; q: shortcut prefix or text",
                    ["q", "scope", "cursor", "limit"],
                ),
                "post": _op("Create a canned response (company scope: admins)", body=True),
            },
            "/api/v1/canned/{id}": {
                "get": _op("One canned response", ["id"]),
                "patch": _op("Change shortcut, title or body", ["id"], body=True),
                "delete": _op("Delete a canned response", ["id"]),
            },
            "/api/v1/canned/{id}/render": {
                "get": _op("The body with placeholders filled for a ticket", ["id", "ticket"])
            },
            "/api/v1/kb/articles": {
                "get": _op(
                    "Knowledge-base articles, newest first", ["published", "cursor", "limit"]
                ),
                "post": _op("Create an article (admins)", body=True),
            },
            "/api/v1/kb/articles/{id}": {
                "get": _op("One article with its sanitised html", ["id"]),
                "patch": _op("Change an article (admins)", ["id"], body=True),
                "delete": _op("Delete an article (admins)", ["id"]),
            },
            "/api/v1/kb/search": {
                "get": _op("Ranked full-text search of articles", ["q", "published", "limit"])
            },
            "/kb/{slug}": {
                "get": {
                    **_op("The public HTML page of a published article"),
                    "parameters": [
                        {
                            "name": "slug",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "security": [],
                }
            },
            "/api/v1/triggers": {
                "get": _op("Triggers in position order (admin)"),
                "post": _op("Create a trigger: on, conditions, actions (admin)", body=True),
            },
            "/api/v1/triggers/{id}": {
                "get": _op("One trigger (admin)", ["id"]),
                "patch": _op("Change a trigger (admin)", ["id"], body=True),
                "delete": _op("Delete a trigger (admin)", ["id"]),
            },
            "/api/v1/webhooks": {
                "get": _op("Webhooks (admin)"),
                "post": _op("Create a webhook: url, events, secret? (admin)", body=True),
            },
            "/api/v1/webhooks/{id}": {
                "get": _op("One webhook (admin)", ["id"]),
                "patch": _op("Change url, events, secret or active (admin)", ["id"], body=True),
                "delete": _op("Delete a webhook and its deliveries (admin)", ["id"]),
            },
            "/api/v1/webhooks/{id}/deliveries": {
                "get": _op(
                    "A webhook's deliveries, newest first (admin)", ["id", "cursor", "limit"]
                )
            },
            "/api/v1/reports/summary": {
                "get": _op(
                    "Volume, first response, resolution and CSAT (admin)",
                    ["from", "to", "group", "agent"],
                )
            },
            "/api/v1/reports/export.csv": {
                "get": _op("The same report as CSV (admin)", ["from", "to", "group", "agent"])
            },
            "/api/v1/inbound/email": {
                "post": {
                    **_op("Receive one raw e-mail (Authorization: Inbound SECRET); 202"),
                    "requestBody": {"content": {"message/rfc822": {"schema": {"type": "string"}}}},
                    "security": [{"inbound": []}],
                }
            },
            "/api/v1/mail/outbox": {
                "get": _op(
                    "Queued and sent mails, newest first (admin)", ["status", "ticket", "limit"]
                )
            },
            "/metrics": {
                "get": {
                    **_op("Prometheus metrics (Bearer CHATDESK_METRICS_TOKEN)"),
                    "security": [{"metrics": []}],
                }
            },
            "/api/v1/audit": {
                "get": _op(
                    "The audit log, newest first (admins)",
                    ["actor", "action", "after", "before", "cursor", "limit"],
                )
            },
            "/api/v1/customers/{id}/export": {
                "get": _op("Everything held about a customer, one JSON document (admins)", ["id"])
            },
            "/api/v1/customers/{id}": {
                "delete": _op("Erase a customer; tickets stay as anonymous shells (admins)", ["id"])
            },
            "/api/v1/agents/invite": {
                "post": _op("Invite an agent by mail: {email, name, role} (admins)", body=True)
            },
            "/api/v1/agents/{id}/totp": {
                "put": _op("Require or reset an agent's TOTP: {required?, reset?}", ["id"], True)
            },
            "/api/v1/auth/invite/accept": {
                "post": {**_op("Set a password from an invitation", body=True), "security": []}
            },
            "/api/v1/auth/reset": {
                "post": {**_op("Mail a password reset link", body=True), "security": []}
            },
            "/api/v1/auth/reset/confirm": {
                "post": {**_op("Set a new password from a reset link", body=True), "security": []}
            },
            "/api/v1/auth/login/totp": {
                "post": {**_op("Complete a login with a TOTP code", body=True), "security": []}
            },
            "/api/v1/auth/totp/setup": {"post": _op("A new TOTP secret: {secret, uri}")},
            "/api/v1/auth/totp/enable": {"post": _op("Turn TOTP on: {code}", body=True)},
            "/api/v1/auth/totp/disable": {"post": _op("Turn TOTP off: {code}", body=True)},
            "/api/v1/auth/sessions": {"get": _op("The caller's sessions")},
            "/api/v1/auth/sessions/{id}": {
                "delete": _op("End one of the caller's sessions", ["id"])
            },
            "/healthz": {"get": _op("The process answers")},
            "/readyz": {"get": _op("Database and broker reachable (503 otherwise)")},
        },
    }


async def openapi(request: Request) -> Response:
    return JSONResponse(document())


routes = [Route("/api/v1/openapi.json", openapi)]
