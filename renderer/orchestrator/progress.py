"""What a person watching a campaign sees: one progress line (counts per state, the send
rate, when deferred recipients are next due, a pause or a provider in trouble), and what is
left when a local worker stops."""

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from renderer.orchestrator.ledger import Ledger

SHOWN = ("pending", "sending", "deferred", "failed", "skipped", "ambiguous")
REACHED = ("accepted", "sent", "delivered")


def line(ledger: Ledger, rate: float | None = None, now: datetime | None = None) -> str:
    """``ID: sent 120 (delivered 90)  pending 30  deferred 5 (next 13:00 UTC, in 4 h)  ...``:
    sent counts every message the provider accepted."""
    totals = ledger.totals()
    reached = sum(totals.get(f"state:{s}", 0) for s in REACHED)
    parts = [f"{ledger.id}: sent {reached:,} (delivered {totals.get('state:delivered', 0):,})"]
    for state in SHOWN:
        count = totals.get(f"state:{state}", 0)
        if count:
            parts.append(f"{state} {count:,}")
            if state == "deferred":
                parts[-1] += f" ({next_due(ledger, now)})"
    if rate is not None:
        parts.append(f"{rate:.1f}/s")
    control = ledger.control()
    if control.get("state") in ("paused", "cancelled"):
        parts.append(f"{control['state'].upper()}: {control.get('reason') or 'by hand'}")
    elif control.get("error") and control.get("streak", "0") != "0":
        parts.append(f"retrying ({control['streak']} in a row): {control['error']}")
    return "  ".join(parts)


def next_due(ledger: Ledger, now: datetime | None = None) -> str:
    due = ledger.next_deferred()
    if due is None:
        return "none due"
    now = now or datetime.now(UTC)
    moment = datetime.fromtimestamp(due, UTC)
    return f"next {moment:%Y-%m-%d %H:%M} UTC, {_in(moment - now)}"


def left_over(ledger: Ledger, now: datetime | None = None) -> str | None:
    """What a person must know when a local worker stops with recipients still deferred:
    when they are due, and what will send them."""
    deferred = ledger.totals().get("state:deferred", 0)
    if not deferred:
        return None
    return (
        f"{deferred:,} recipients of {ledger.id} are deferred ({next_due(ledger, now)}); they "
        f"are sent only while a worker runs: leave `mms-renderer worker --campaign "
        f"{ledger.id}` running"
    )


class Reporter:
    """Prints progress lines for ``campaigns()`` while work runs: every second on a
    terminal (one line, rewritten), every ``every`` seconds to a log; only when a line
    changed."""

    def __init__(
        self, ledgers: Callable[[], list[Ledger]], out: TextIO, every: float = 5.0
    ) -> None:
        self.ledgers, self.out = ledgers, out
        self.interactive = out.isatty()
        self.every = 1.0 if self.interactive else every
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.last: dict[str, tuple[str, float, int]] = {}  # id -> (line, when, reached)

    def __enter__(self) -> "Reporter":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()
        self.show(final=True)

    def _loop(self) -> None:
        while not self.done.wait(self.every):
            self.show()

    def show(self, final: bool = False) -> None:
        for ledger in self.ledgers():
            totals = ledger.totals()
            reached = sum(totals.get(f"state:{s}", 0) for s in REACHED)
            text, now = line(ledger), time.monotonic()
            shown, then, before = self.last.get(ledger.id, ("", now, reached))
            self.last[ledger.id] = (text, now, reached)
            if text == shown and not final:
                continue
            rate = (reached - before) / (now - then) if now > then else None
            text = line(ledger, rate)
            if self.interactive and not final:
                print(f"\r{text}\033[K", end="", file=self.out, flush=True)
            else:
                print(("\r" if self.interactive else "") + text, file=self.out, flush=True)


def _in(delta) -> str:
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "due now"
    hours, minutes = divmod(seconds // 60, 60)
    if hours:
        return f"in {hours} h {minutes} min"
    return f"in {minutes} min" if minutes else f"in {seconds} s"
