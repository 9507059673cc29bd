"""``--find-max``: the highest rate a deployment sustains, for one kind of request at a time.

A ladder: hold a rate for one step, and if the step was sustainable multiply the rate and go
on; at the first step that is not, bisect (geometrically) between the last good and the first
bad rate a few times. A step is sustainable when its p99 latency (open loop: queueing
included) is at or under the target and at most ``max_failures`` of its requests failed
(errors, 503s, timeouts). When the generator itself sent requests late, the answer is a
floor set by this machine, and the report says so.
"""

import math
from collections.abc import Awaitable, Callable
from typing import Any

RunStep = Callable[[str, float], Awaitable[dict[str, Any] | None]]  # None: no time left
GENERATOR_LATE_MS = 50.0  # a step whose requests left this late (p99) measured the generator


def verdict(step: dict[str, Any], kind: str, p99_ms: float, max_failures: float) -> str:
    """Why ``step`` was not sustainable for ``kind``, or "" when it was."""
    summary = step["kinds"].get(kind)
    if not summary or not summary["requests"]:
        return "no requests were sent"
    failed = summary["errors"] + summary["503s"] + summary["timeouts"]
    if failed / summary["requests"] > max_failures:
        return (
            f"{failed / summary['requests']:.1%} failed ({summary['errors']} errors, "
            f"{summary['503s']} 503s, {summary['timeouts']} timeouts)"
        )
    p99 = summary["latency_ms"]["p99"]
    if p99 is None or p99 > p99_ms:
        return f"p99 {p99:.0f} ms is over {p99_ms:g} ms"
    return ""


async def search(
    kind: str,
    run_step: RunStep,
    *,
    p99_ms: float,
    start: float,
    factor: float,
    max_rate: float,
    refine: int,
    max_failures: float,
) -> dict[str, Any]:
    """Climb, then bisect; returns the highest sustainable rate and why the next one was not."""
    good: tuple[float, dict] | None = None
    bad: tuple[float, dict, str] | None = None
    limit = "max rate"
    rate = start
    while rate <= max_rate:
        step = await run_step(kind, rate)
        if step is None:
            limit = "duration"
            break
        why = verdict(step, kind, p99_ms, max_failures)
        if why:
            bad, limit = (rate, step, why), "server"
            break
        good = (rate, step)
        rate *= factor
    for _ in range(refine if good and bad else 0):
        middle = math.sqrt(good[0] * bad[0])
        step = await run_step(kind, middle)
        if step is None:
            break
        why = verdict(step, kind, p99_ms, max_failures)
        if why:
            bad = (middle, step, why)
        else:
            good = (middle, step)
    if bad and (bad[1]["lag_ms"]["p99"] or 0) > GENERATOR_LATE_MS:
        limit = "load generator"
    return {
        "rate": good[0] if good else None,
        "p99_ms": good[1]["kinds"][kind]["latency_ms"]["p99"] if good else None,
        "first_failing_rate": bad[0] if bad else None,
        "why_not_higher": bad[2] if bad else None,
        "limited_by": limit,
    }


def describe(kind: str, found: dict[str, Any], p99_ms: float) -> str:
    """One line: the answer in words."""
    if found["rate"] is None:
        why = found["why_not_higher"]
        return f"{kind}: not even the starting rate held p99 <= {p99_ms:g} ms ({why})"
    line = (
        f"{kind}: highest sustainable rate {found['rate']:.1f}/s with p99 {found['p99_ms']:.0f} ms "
        f"<= {p99_ms:g} ms"
    )
    if found["first_failing_rate"] is not None:
        line += f"; at {found['first_failing_rate']:.1f}/s {found['why_not_higher']}"
    notes = {
        "load generator": " (the load generator fell behind: the deployment may take more; run it "
        "from a bigger machine)",
        "max rate": " (stopped at --max-rate)",
        "duration": " (stopped by --duration)",
    }
    return line + notes.get(found["limited_by"], "")
