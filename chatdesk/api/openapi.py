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
            "/healthz": {"get": _op("The process answers")},
            "/readyz": {"get": _op("Database and broker reachable (503 otherwise)")},
        },
    }


async def openapi(request: Request) -> Response:
    return JSONResponse(document())


routes = [Route("/api/v1/openapi.json", openapi)]
