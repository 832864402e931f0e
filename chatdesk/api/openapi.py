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
            "/healthz": {"get": _op("The process answers")},
            "/readyz": {"get": _op("Database and broker reachable (503 otherwise)")},
        },
    }


async def openapi(request: Request) -> Response:
    return JSONResponse(document())


routes = [Route("/api/v1/openapi.json", openapi)]
