"""What happened to a campaign: totals by state and variant, clicks, skips and deferrals by
reason, error codes, ambiguous sends for a person to decide, and the send rate over time."""

import html
import json
from typing import Any

from renderer.orchestrator import progress
from renderer.orchestrator.ledger import Ledger

STATES = (
    "pending",
    "deferred",
    "sending",
    "accepted",
    "sent",
    "delivered",
    "failed",
    "skipped",
    "ambiguous",
)


def gather(ledger: Ledger) -> dict[str, Any]:
    totals = ledger.totals()
    definition = json.loads(ledger.redis.get(ledger.definition) or "{}")
    variants = [v["name"] for v in definition.get("variants", [])]
    clicks = {k: int(v) for k, v in ledger.redis.hgetall(ledger.clicks).items()}
    by_variant = {}
    for name in variants:
        states = {s: totals.get(f"v:{name}:state:{s}", 0) for s in STATES}
        reached = sum(states[s] for s in ("accepted", "sent", "delivered"))
        by_variant[name] = {
            **{s: n for s, n in states.items() if n},
            "clicks": clicks.get(name, 0),
            "click_through": round(clicks.get(name, 0) / reached, 4) if reached else None,
        }
    ambiguous = []
    for key in sorted(ledger.redis.smembers(ledger.ambiguous)):
        record = ledger.record(key)
        if record.get("state") == "ambiguous":
            ambiguous.append(
                {
                    "phone": record.get("phone", "(forgotten)"),
                    "row": record.get("row"),
                    "reason": record.get("reason"),
                }
            )
    control = ledger.control()
    return {
        "campaign": ledger.id,
        "run": {
            "state": control.get("state", "running"),
            "reason": control.get("reason") or None,
            "provider_error": control.get("error") or None,
            "next_deferred": progress.next_due(ledger) if totals.get("state:deferred") else None,
        },
        "enqueued": bool(totals.get("enqueued")),
        "states": {s: totals.get(f"state:{s}", 0) for s in STATES},
        "variants": by_variant,
        "skipped": _prefixed(totals, "skip:"),
        "deferrals": _prefixed(totals, "defer:"),
        "errors": _prefixed(totals, "error:"),
        "retries": _prefixed(totals, "retry:"),
        "retried_failed": totals.get("retried", 0),
        "resent_after_lookup": totals.get("resent_after_lookup", 0),
        "ambiguous": ambiguous,
        "row_errors": [json.loads(item) for item in ledger.redis.lrange(ledger.row_errors, 0, 99)],
        "sends_per_minute": dict(sorted(ledger.redis.hgetall(ledger.rate).items())),
    }


def text(report: dict[str, Any]) -> str:
    run = report["run"]
    lines = [f"campaign {report['campaign']}: {run['state'].upper()}"]
    if run["reason"]:
        lines[0] += f": {run['reason']}"
    lines.append("  " + "  ".join(f"{s} {n}" for s, n in report["states"].items() if n))
    if run["next_deferred"]:
        lines.append(f"  deferred: {run['next_deferred']} (sent while a worker runs)")
    if run["provider_error"]:
        lines.append(f"  last provider error: {run['provider_error']}")
    for name, figures in report["variants"].items():
        ctr = figures["click_through"]
        shown = "  ".join(f"{k} {v}" for k, v in figures.items() if k != "click_through")
        lines.append(f"  variant {name}: {shown}" + (f"  CTR {ctr:.1%}" if ctr is not None else ""))
    for label in ("skipped", "deferrals", "errors", "retries"):
        if report[label]:
            lines.append(f"  {label}: " + ", ".join(f"{k} {v}" for k, v in report[label].items()))
    for row in report["row_errors"][:10]:
        lines.append(f"  row {row['row']}: {row['error']}")
    for item in report["ambiguous"]:
        lines.append(f"  AMBIGUOUS {item['phone']} (row {item['row']}): {item['reason']}")
    return "\n".join(lines)


def page(report: dict[str, Any]) -> str:
    """A self-contained HTML report: tables, and the send rate as an inline SVG chart."""
    esc = html.escape

    def table(title: str, rows: dict) -> str:
        body = "".join(
            f"<tr><td>{esc(str(k))}</td><td>{esc(str(v))}</td></tr>" for k, v in rows.items()
        )
        return f"<h2>{esc(title)}</h2><table>{body}</table>" if rows else ""

    ambiguous = "".join(
        f"<li>{esc(item['phone'])} (row {esc(str(item['row']))}): {esc(str(item['reason']))}</li>"
        for item in report["ambiguous"]
    )
    run = report["run"]
    status = esc(run["state"]) + (f": {esc(run['reason'])}" if run["reason"] else "")
    return (
        "<!doctype html><meta charset=utf-8><title>Campaign report</title>"
        "<style>body{font:14px sans-serif;margin:2em}td,th{padding:2px 10px;border-bottom:1px "
        "solid #ddd;text-align:right}td:first-child,th:first-child{text-align:left}"
        ".paused,.cancelled{color:#b00;font-weight:bold}</style>"
        f"<h1>Campaign {esc(report['campaign'])}</h1>"
        f"<p id=run class={esc(run['state'])}>{status}</p>"
        + table("States", {k: v for k, v in report["states"].items() if v})
        + _variants(report["variants"])
        + table("Skipped, by reason", report["skipped"])
        + table("Deferrals, by reason", report["deferrals"])
        + table("Error codes", report["errors"])
        + table("Provider retries, by error", report["retries"])
        + (f"<h2>Ambiguous: decide by hand</h2><ul>{ambiguous}</ul>" if ambiguous else "")
        + "<h2>Sends per minute</h2>"
        + _chart(report["sends_per_minute"])
    )


def _variants(variants: dict[str, dict]) -> str:
    """One row per variant: each state's count, clicks, and click-through with a bar."""
    if not variants:
        return ""
    columns = [s for s in STATES if any(figures.get(s) for figures in variants.values())]
    head = "".join(f"<th>{c}</th>" for c in ["variant", *columns, "clicks", "click-through"])
    best = max((f["click_through"] or 0 for f in variants.values()), default=0) or 1
    rows = []
    for name, figures in variants.items():
        ctr = figures["click_through"]
        cells = [str(figures.get(c, 0)) for c in [*columns, "clicks"]]
        bar = (
            f'<svg width="80" height="10"><rect width="{80 * (ctr or 0) / best:.1f}" '
            'height="10" fill="#3b7dd8"/></svg> '
        )
        cells.append(bar + f"{ctr:.1%}" if ctr is not None else "")
        rows.append(
            f"<tr><td>{html.escape(name)}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
        )
    return f"<h2>Variants</h2><table id=variants><tr>{head}</tr>{''.join(rows)}</table>"


def _chart(per_minute: dict[str, str]) -> str:
    if not per_minute:
        return "<p>No sends yet.</p>"
    values = [int(v) for v in per_minute.values()]
    width, height, top = max(300, 12 * len(values)), 160, max(values)
    bars = "".join(
        f'<rect x="{i * 12}" y="{height - 20 - v / top * (height - 40):.1f}" width="10" '
        f'height="{v / top * (height - 40):.1f}" fill="#3b7dd8"><title>{html.escape(m)}: '
        f"{v}</title></rect>"
        for i, (m, v) in enumerate(zip(per_minute, values, strict=True))
    )
    first, last = html.escape(next(iter(per_minute))), html.escape(list(per_minute)[-1])
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">{bars}'
        f'<text x="0" y="{height - 4}" font-size="11">{first}</text>'
        f'<text x="{width}" y="{height - 4}" font-size="11" text-anchor="end">{last}</text>'
        f'<text x="0" y="12" font-size="11">max {top}/min</text></svg>'
    )


def _prefixed(totals: dict[str, int], prefix: str) -> dict[str, int]:
    return {k[len(prefix) :]: v for k, v in sorted(totals.items()) if k.startswith(prefix) and v}
