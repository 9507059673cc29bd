"""An audience streamed into a campaign's ledger: bounded memory, whatever its size.

Rows are read one at a time and written to Redis in pipelined batches. A bad row is reported
with its row number and the rest go on; a row without opt-in proof is recorded as skipped,
never sent; a number seen before (in this file, or in an earlier run of the same campaign)
is counted as a duplicate and sent once.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from renderer.orchestrator import audience
from renderer.orchestrator.campaign import Campaign
from renderer.orchestrator.compliance import phone_key
from renderer.orchestrator.ledger import Ledger

BATCH = 500


@dataclass
class Enqueued:
    rows: int = 0
    queued: int = 0
    duplicates: int = 0
    no_opt_in: int = 0
    bad_rows: int = 0


def enqueue(
    client: redis.Redis,
    campaign: Campaign,
    path: Path,
    privacy_key: bytes,
    progress: Callable[[Enqueued], None] = lambda _: None,
) -> Enqueued:
    ledger = Ledger(client, campaign.id)
    ledger.start(campaign.to_dict())
    done = Enqueued()
    batch: list[tuple[str, str, str, dict]] = []
    for row in audience.rows(path):
        done.rows += 1
        if row.problem:
            ledger.note_row_error(row.number, row.problem)
            done.bad_rows += 1
            continue
        variant = campaign.variant_for(row.phone)
        state = "pending" if row.opted_in else "skipped"
        fields = {
            "phone": row.phone,
            "row": str(row.number),
            "values": json.dumps(row.values, ensure_ascii=False),
            "timezone": row.timezone or "",
            "mms": "1" if row.mms_capable else "0",
        }
        if not row.opted_in:
            fields["reason"] = "no opt-in proof"
        batch.append((phone_key(privacy_key, row.phone), state, variant.name, fields))
        if len(batch) >= BATCH:
            _flush(ledger, batch, done)
            progress(done)
    _flush(ledger, batch, done)
    client.hset(ledger.counts, "enqueued", 1)
    progress(done)
    return done


def _flush(ledger: Ledger, batch: list, done: Enqueued) -> None:
    created = ledger.create_many(batch)
    skipped = 0
    for (_, state, _, _), new in zip(batch, created, strict=True):
        if not new:
            done.duplicates += 1
        elif state == "skipped":
            skipped += 1
        else:
            done.queued += 1
    if skipped:
        done.no_opt_in += skipped
        ledger.count("skip:no_opt_in", skipped)
    batch.clear()
