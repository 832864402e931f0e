"""GET /api/v1/reports/summary and /api/v1/reports/export.csv (admin), one computation."""

from __future__ import annotations

import csv
import io
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatdesk.api.common import current_agent, desk, query, require_admin
from chatdesk.services import reports

COLUMNS = (
    "scope",
    "id",
    "name",
    "day",
    "tickets",
    "solved",
    "first_response_median_s",
    "first_response_p90_s",
    "resolution_median_s",
    "resolution_p90_s",
    "csat_count",
    "csat_average",
)
# A cell starting like a formula runs as one in a spreadsheet: shown as text instead.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


async def _summary(request: Request) -> dict[str, Any]:
    require_admin(await current_agent(request))
    scope = reports.scope_of(query(request))
    async with desk(request).reads() as session:
        return await reports.summary(session, scope)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _metrics(part: dict[str, Any]) -> list[Any]:
    return [
        part["tickets"],
        part["solved"],
        part["first_response_s"]["median"],
        part["first_response_s"]["p90"],
        part["resolution_s"]["median"],
        part["resolution_s"]["p90"],
        part["csat"]["count"],
        part["csat"]["average"],
    ]


def to_csv(summary: dict[str, Any]) -> str:
    """One table: a total row, a row per day, per agent and per group."""
    period = f"{summary['from']}..{summary['to']}"
    rows: list[list[Any]] = [["total", "", "all", period, *_metrics(summary)]]
    for day in summary["new_per_day"]:
        rows.append(["day", "", "", day["day"], day["count"], *[""] * 7])
    for row in summary["per_agent"]:
        rows.append(["agent", row["agent"]["id"], row["agent"]["name"], period, *_metrics(row)])
    for row in summary["per_group"]:
        rows.append(["group", row["group"]["id"], row["group"]["name"], period, *_metrics(row)])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue()


async def summary(request: Request) -> Response:
    return JSONResponse(await _summary(request))


async def export_csv(request: Request) -> Response:
    found = await _summary(request)
    rows = to_csv(found)
    name = f"chatdesk-report-{found['from']}-{found['to']}.csv"
    # The BOM makes spreadsheet programs read the file as UTF-8.
    return Response(
        "\ufeff" + rows,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


routes = [
    Route("/api/v1/reports/summary", summary, methods=["GET"]),
    Route("/api/v1/reports/export.csv", export_csv, methods=["GET"]),
]
