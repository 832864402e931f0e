"""Figures out of measurements: the JSON entries, the targets, and the table on stdout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.load import StepResult, held, percentile

Results = dict[str, Any]


def _lat(samples: list[int]) -> dict[str, float]:
    return {
        f"{name}_ms": round(percentile(samples, q), 2)
        for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))
    }


def step_summary(step: StepResult, p99_limit_ms: float) -> dict[str, Any]:
    return {
        "offered": round(step.offered),
        "msgs_per_s": round(step.msgs_per_s),
        "p99_ms": round(percentile(step.deliver_ns, 99), 2),
        "errors": step.errors,
        "unacked": step.unacked,
        "generator_lag_max_ms": round(step.lag_max_ms, 1),
        "stopped_early": step.stopped_early,
        "held": held(step, p99_limit_ms),
        "cpu_cores": step.cpu,
    }


def chat_entry(step: StepResult, steps: list[StepResult], p99_limit_ms: float) -> Results:
    """The contract's keys (msgs_per_s, p50/p99/max of delivery, errors) and the detail."""
    entry: Results = {"msgs_per_s": round(step.msgs_per_s), **_lat(step.deliver_ns)}
    entry |= {
        "errors": step.errors,
        "offered": round(step.offered),
        "held": held(step, p99_limit_ms),
        "seconds": step.seconds,
        "visitor_to_agent": _lat(step.v2a_ns),
        "agent_to_visitor": _lat(step.a2v_ns),
        "ack": _lat(step.ack_ns),
        "unacked": step.unacked,
        "stopped_early": step.stopped_early,
        "generator_lag_max_ms": round(step.lag_max_ms, 1),
        "cpu_cores": step.cpu,
        "error_samples": step.error_samples[:5],
    }
    if steps:
        entry["steps"] = [step_summary(s, p99_limit_ms) for s in steps]
    return entry


# ---------------------------------------------------------------- targets


def _ratio(value: float, target: float) -> str:
    return f"{value / target:.2f}x of target" if target else ""


def _verdict(ok: bool, detail: str) -> str:
    if ok:
        return "met"
    return f"MISSED ({detail})" if detail else "MISSED"


def cpu_per_msg(entry: Results) -> float | None:
    """The lowest server CPU (ms) per acknowledged message over a run's steps: what the
    servers cost when busiest, which CPU contention distorts far less than latency."""
    costs = [
        s["cpu_cores"]["servers"] * 1000 / s["msgs_per_s"]
        for s in entry.get("steps") or []
        if s.get("msgs_per_s") and (s.get("cpu_cores") or {}).get("servers")
    ]
    return round(min(costs), 2) if costs else None


def _chat_target(
    entry: Results, rate: float, p99: float, sustained: bool = False
) -> tuple[str, str]:
    got, lat = entry["msgs_per_s"], entry["p99_ms"]
    if sustained and entry.get("held"):
        # The "sustained" rate is the last offered rate that held (acks within
        # 2 % of it, p99 under the limit). acked/s counts up to the last ack, so a
        # step held at exactly 1,500/s reads 1,499/s.
        got = max(got, entry["offered"])
    ok = entry.get("held", False) and got >= rate and lat < p99 and entry["errors"] == 0
    misses = []
    if got < rate:
        misses.append(f"{got:,}/s is {_ratio(got, rate)}")
    if lat >= p99:
        misses.append(f"p99 {lat} ms")
    if entry["errors"]:
        misses.append(f"{entry['errors']} errors")
    return f">= {rate:,.0f}/s, p99 < {p99:g} ms", _verdict(ok, "; ".join(misses))


def targets(results: Results) -> list[tuple[str, str, str, str]]:
    """(what, measured, target, verdict) for every target of the issue that was run."""
    rows: list[tuple[str, str, str, str]] = []

    def chat_row(key: str, label: str, rate: float, p99: float) -> None:
        entry = results.get(key)
        if not entry or "msgs_per_s" not in entry:
            return
        measured = (
            f"{entry['msgs_per_s']:,}/s p50 {entry['p50_ms']} p99 {entry['p99_ms']} "
            f"max {entry['max_ms']} ms, {entry['errors']} errors"
        )
        if not entry.get("held"):
            measured = f"no rate held; lowest tried: {measured}"
        else:
            measured = f"held {entry['offered']:,}/s offered: {measured}"
        rows.append((label, measured, *_chat_target(entry, rate, p99, sustained=True)))

    chat_row("chat_pg", "chat, PostgreSQL+Redis, 2 processes", 2500, 25)
    steady = results.get("steady")
    if steady and "msgs_per_s" in steady:
        measured = f"{steady['msgs_per_s']:,}/s p50 {steady['p50_ms']} p99 {steady['p99_ms']} ms"
        _, verdict = _chat_target(steady, steady["offered"] * 0.98, 10)
        rows.append(("steady 1,000 msgs/s, PostgreSQL", measured, "p99 < 10 ms", verdict))
    pg, base = results.get("chat_pg"), results.get("baseline")
    if pg and base and pg.get("msgs_per_s") is not None and base.get("msgs_per_s"):
        ratio = pg["msgs_per_s"] / base["msgs_per_s"]
        measured = f"{pg['msgs_per_s']:,} / {base['msgs_per_s']:,} = {ratio:.2f}"
        detail = f"{ratio / 0.7:.2f}x of target"
        rows.append(("chatdesk PG / baseline", measured, ">= 0.70", _verdict(ratio >= 0.7, detail)))
        pg_cpu, base_cpu = cpu_per_msg(pg), cpu_per_msg(base)
        if pg_cpu and base_cpu:
            measured = f"server CPU/msg {base_cpu} ms / {pg_cpu} ms = {base_cpu / pg_cpu:.2f}"
            ok = base_cpu / pg_cpu >= 0.7
            rows.append(("same, by CPU per message", measured, ">= 0.70", _verdict(ok, "")))
    chat_row("chat_sqlite", "chat, SQLite, 1 process", 1500, 25)
    idle = results.get("idle")
    if idle and "connections" in idle:
        ok = idle["connections"] >= 10_000 and idle["kib_per_conn"] < 24
        measured = f"{idle['connections']:,} held, {idle['kib_per_conn']} KiB each"
        detail = "fewer than 10,000 tried" if idle["connections"] < 10_000 else "too large"
        rows.append(
            ("idle connections, 1 process", measured, "10,000 at < 24 KiB", _verdict(ok, detail))
        )
    fan = results.get("fanout")
    if fan and "p99_ms" in fan:
        ok = fan["p99_ms"] < 20 and fan["watchers"] >= 100
        measured = f"{fan['watchers']} watchers: p50 {fan['p50_ms']} p99 {fan['p99_ms']} ms"
        rows.append(
            (
                "fan-out",
                measured,
                "100 watchers p99 < 20 ms",
                _verdict(ok, _ratio(fan["p99_ms"], 20)),
            )
        )
    cu = results.get("catchup")
    if cu and "ms" in cu:
        ok = cu["ms"] < 200 and cu["events"] >= 1000
        measured = f"{cu['events']:,} events in {cu['ms']} ms (agent sync {cu['agent_sync_ms']} ms)"
        rows.append(
            ("catch-up", measured, "1,000 events < 200 ms", _verdict(ok, _ratio(cu["ms"], 200)))
        )
    st = results.get("storm")
    if st and "ms" in st:
        ok = st["ms"] < 2000 and st["caught_up"] == st["clients"] >= 1000
        measured = f"{st['caught_up']:,}/{st['clients']:,} caught up in {st['ms']:,} ms"
        rows.append(
            (
                "reconnect storm",
                measured,
                "1,000 clients < 2 s",
                _verdict(ok, _ratio(st["ms"], 2000)),
            )
        )
    return rows


# ---------------------------------------------------------------- output


def _grid(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def _steps_table(results: Results) -> str:
    rows = []
    for key in ("chat_pg", "chat_sqlite", "baseline", "steady"):
        entry = results.get(key) or {}
        for s in entry.get("steps") or ([step_summary_of(entry)] if "offered" in entry else []):
            cpu = s.get("cpu_cores") or {}
            rows.append(
                (
                    key,
                    f"{s['offered']:,}",
                    f"{s['msgs_per_s']:,}",
                    f"{s['p99_ms']}",
                    f"{s['errors']}/{s['unacked']}",
                    "yes" if s["held"] else ("no, stopped" if s.get("stopped_early") else "no"),
                    f"{cpu.get('servers', 0):.2f}",
                    f"{cpu.get('servers', 0) * 1000 / max(1, s['msgs_per_s']):.2f}",
                    f"{cpu.get('generator', 0):.2f}",
                    f"{cpu.get('postgres+redis', 0):.2f}",
                    f"{cpu.get('others', 0):.2f}",
                    str((cpu.get("pg_per_msg") or {}).get("xact_commit", "")),
                )
            )
    header = ("run", "offered/s", "acked/s", "p99 ms", "err/unack", "held")
    header += ("servers", "srv ms/msg", "generator", "pg+redis", "others", "pg commits/msg")
    return _grid(header, rows) if rows else ""


def step_summary_of(entry: Results) -> dict[str, Any]:
    return {
        "offered": entry["offered"],
        "msgs_per_s": entry["msgs_per_s"],
        "p99_ms": entry["p99_ms"],
        "errors": entry["errors"],
        "unacked": entry.get("unacked", 0),
        "stopped_early": entry.get("stopped_early", False),
        "held": entry.get("held", False),
        "cpu_cores": entry.get("cpu_cores", {}),
    }


def _chat_rows(results: Results) -> list[tuple[str, ...]]:
    rows = []
    labels = {
        "chat_pg": "PostgreSQL+Redis, 2 proc.",
        "steady": "PostgreSQL steady",
        "chat_sqlite": "SQLite, 1 proc.",
        "baseline": "baseline, 2 proc.",
    }
    for key, label in labels.items():
        e = results.get(key)
        if not e or "msgs_per_s" not in e:
            continue
        for way, name in (("visitor_to_agent", "v->a"), ("agent_to_visitor", "a->v")):
            lat = e[way]
            rows.append(
                (
                    label if name == "v->a" else "",
                    f"{e['msgs_per_s']:,}" if name == "v->a" else "",
                    name,
                    f"{lat['p50_ms']}",
                    f"{lat['p95_ms']}",
                    f"{lat['p99_ms']}",
                    f"{lat['max_ms']}",
                    str(e["errors"]) if name == "v->a" else "",
                )
            )
    return rows


def table(results: Results) -> str:
    parts = []
    machine = results.get("machine", {})
    parts.append(
        f"chatdesk benchmark: {machine.get('cores', '?')} cores shared by the servers, the "
        f"load generator, PostgreSQL and Redis (and whatever else runs); load average "
        f"{machine.get('loadavg_start', '?')} at start, {machine.get('loadavg_end', '?')} at end; "
        f"chatdesk at {results.get('source', '?')}"
    )
    rows = targets(results)
    if rows:
        parts.append(_grid(("target", "measured", "goal", "verdict"), rows))
    chat = _chat_rows(results)
    if chat:
        header = ("chat load", "acked/s", "way", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors")
        parts.append(_grid(header, chat))
    steps = _steps_table(results)
    if steps:
        parts.append("rate search (last held rate is reported; CPU in cores of 2):\n" + steps)
    extra = _extra_rows(results)
    if extra:
        parts.append(_grid(("other figures", "value"), extra))
    return "\n\n".join(parts)


def _extra_rows(results: Results) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    runs = [("idle", r) for r in results.get("idle_runs", [])]
    runs += [("idle, baseline", r) for r in results.get("idle_baseline_runs", [])]
    for name, idle in runs:
        rows.append(
            (
                f"{name} {idle['target']:,}",
                f"{idle['connections']:,} open, {idle['kib_per_conn']} KiB/conn "
                f"(RSS {idle['rss_before_mib']} -> {idle['rss_after_mib']} MiB), "
                f"{idle['open_per_s']:,} opened/s",
            )
        )
    fan = results.get("fanout") or {}
    if "first_p50_ms" in fan:
        rows.append(
            (
                "fan-out detail",
                f"first watcher p50 {fan['first_p50_ms']} p99 {fan.get('first_p99_ms', '?')} ms; "
                f"max {fan['max_ms']} ms; "
                f"generator {fan['generator_us_per_frame']} us/frame",
            )
        )
    st = results.get("storm") or {}
    if "p50_ms" in st:
        detail = f"{st['missed_each']} missed each; p50 {st['p50_ms']} ms"
        if st.get("cpu"):
            detail += (
                f"; CPU during it: servers {st['cpu']['servers_s']} s, "
                f"generator {st['cpu']['generator_s']} s"
            )
        if st.get("failed"):
            detail += f"; {st['failed']} failed: {', '.join(st.get('failure_samples', []))}"
        rows.append(("storm detail", detail))
    redis = results.get("redis_benchmark") or {}
    if "publish_per_s_p1" in redis:
        rows.append(
            (
                "redis-benchmark PUBLISH",
                f"{redis['publish_per_s_p1']:,}/s unpipelined, "
                f"{redis.get('publish_per_s_p16', 0):,}/s 16-deep "
                f"({redis['payload_bytes']} B, {redis['subscribers']} subscriber)",
            )
        )
    for part, size in (results.get("widget") or {}).items():
        rows.append((f"widget {part} (gzip)", size))
    for key, value in results.items():
        if isinstance(value, dict) and "error" in value and len(value) == 1:
            rows.append((f"{key} FAILED", str(value["error"])[:200]))
    return rows


def write_json(path: Path, results: Results) -> None:
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
