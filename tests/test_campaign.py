"""Whole campaigns through real parts: Redis, the render service and the sandbox provider
over HTTP; the worker in this process with an injected clock."""

import io
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import httpx
from PIL import Image

from renderer.orchestrator.ledger import Ledger
from renderer.orchestrator.report import gather

from .campaign_env import AREAS, Clock, at, person, phone, wait_for

CAMPAIGN = """
id = "e2e"
template = "flash_sale"
body = "{{ first_name }}, 40% off today at https://shop.example.com/sale?x=1 Reply STOP to end"
fallback_body = "{{ first_name }}, 40% off today: {{ image_link }} Reply STOP to end"

[[senders]]
number = "+15005550006"
mps = 200

[utm]
utm_source = "mms"
utm_campaign = "e2e"

[[variants]]
name = "A"
weight = 70

[[variants]]
name = "B"
weight = 30
body = "B: {{ first_name }}, 40% off today https://shop.example.com/sale?x=1 Reply STOP to end"
"""


def audience_of(count: int) -> tuple[list[dict], dict[str, set]]:
    rows, groups = [], {k: set() for k in ("eligible", "no_opt_in", "sms", "late")}
    areas = list(AREAS)
    for i in range(count):
        area = areas[i % len(areas)]
        row = person(i, area)
        if i % 50 == 7:
            row["opt_in_at"] = ""
            groups["no_opt_in"].add(row["phone"])
        else:
            groups["eligible"].add(row["phone"])
            if AREAS[area] in ("CO", "CA"):
                groups["late"].add(row["phone"])
        if i % 50 == 13:
            row["mms_capable"] = "false"
            groups["sms"].add(row["phone"])
        rows.append(row)
        if i % 100 == 21:
            rows.append(dict(row))  # a duplicate row: sent once
    rows += [{**person(9000 + i, "212"), "phone": f"bad-{i}"} for i in range(5)]
    return rows, groups


def test_a_500_recipient_campaign_end_to_end(campaign_env):
    env = campaign_env
    rows, groups = audience_of(500)
    stopped_early = phone(list(AREAS)[33 % len(AREAS)], 33)  # replied STOP before the campaign
    assert (
        env.post_signed("/v1/webhooks/inbound", {"From": stopped_early, "Body": "STOP"}).status_code
        == 200
    )
    groups["eligible"].discard(stopped_early)
    campaign, enqueued = env.start(CAMPAIGN, rows)
    assert (enqueued.rows, enqueued.bad_rows, enqueued.no_opt_in) == (len(rows), 5, 10)
    assert enqueued.duplicates == 5 and enqueued.queued == 490

    # 14:30Z: open in New York, Florida, Oklahoma, Illinois; closed in Denver and LA
    clock = Clock(at("2026-11-27T14:30:00+00:00"))
    worker = env.worker(clock)
    worker.run(only="e2e", until_idle=True)
    ledger = Ledger(env.client, "e2e")
    early = groups["eligible"] - groups["late"]
    wait_for(lambda: len(env.sandbox.outbox()) == len(early), what="the early sends")
    assert ledger.totals()["state:deferred"] == len(groups["late"])

    # STOP mid-campaign, from someone still deferred
    stopped_late = sorted(groups["late"])[0]
    reply = env.post_signed("/v1/webhooks/inbound", {"From": stopped_late, "Body": " stop "})
    assert "<Message>You are unsubscribed" in reply.text
    groups["eligible"].discard(stopped_late)

    clock.now = at("2026-11-27T17:30:00+00:00")  # 10:30 in Denver, 09:30 in LA
    worker.run(only="e2e", until_idle=True)
    wait_for(lambda: len(env.sandbox.outbox()) == len(groups["eligible"]), what="all sends")

    outbox = env.sandbox.outbox()
    sent_to = Counter(m["to"] for m in outbox)
    assert set(sent_to) == groups["eligible"] and set(sent_to.values()) == {1}, "exactly once"
    for message in outbox:
        variant = campaign.variant_for(message["to"]).name
        if message["to"] not in groups["sms"]:
            assert message["body"].startswith("B: ") == (variant == "B")
        assert (
            "shop.example.com" not in message["body"] and f"{env.service.url}/c/" in message["body"]
        )
        if message["to"] in groups["sms"]:
            assert message["media_url"] is None and "/c/i" in message["body"]
        else:
            query = parse_qs(urlsplit(message["media_url"]).query)
            assert query["sig"]
            # pinned at the moment it was sent: the deferred ones at 17:30, not 14:30
            sent_at = "17:30" if message["to"] in groups["late"] else "14:30"
            assert query["at"] == [str(int(at(f"2026-11-27T{sent_at}:00+00:00").timestamp()))]
    # the carrier's fetch: every image under 600 KB, a JPEG
    wait_for(lambda: all(m["status"] == "delivered" for m in env.sandbox.outbox()), what="delivery")
    for message in env.sandbox.outbox():
        if message["media_url"]:
            assert message["media_type"] == "image/jpeg" and 0 < message["media_bytes"] <= 600_000
    image = Image.open(
        io.BytesIO(httpx.get(outbox[0]["media_url"] or outbox[1]["media_url"]).content)
    )
    assert image.size == (1080, 1080)

    # delivery receipts reached the ledger through the signed status webhook
    wait_for(
        lambda: ledger.totals().get("state:delivered", 0) == len(groups["eligible"]),
        what="receipts",
    )
    report = gather(ledger)
    assert report["states"]["delivered"] == len(groups["eligible"])
    assert report["skipped"]["no_opt_in"] == 10 and report["skipped"]["duplicate"] == 5
    assert report["skipped"]["suppressed"] == 2 and report["skipped"]["bad_row"] == 5
    assert report["deferrals"]["quiet_hours"] == len(groups["late"])
    assert [r["row"] for r in report["row_errors"]] == [len(rows) - 3 + i for i in range(5)]
    assert report["states"]["pending"] == report["states"]["sending"] == 0
    assert {v: f["delivered"] for v, f in report["variants"].items()} == dict(
        Counter(campaign.variant_for(p).name for p in groups["eligible"])
    )

    # a tracked link: redirects with UTM, counts the click for the variant
    message = next(m for m in outbox if m["to"] not in groups["sms"])
    link = next(word for word in message["body"].split() if "/c/" in word)
    response = httpx.get(link)
    assert response.status_code == 302
    assert response.headers["location"] == (
        "https://shop.example.com/sale?x=1&utm_source=mms&utm_campaign=e2e"
    )
    variant = campaign.variant_for(message["to"]).name
    assert gather(ledger)["variants"][variant]["clicks"] == 1


def test_the_fallback_link_leads_to_the_image(campaign_env):
    env = campaign_env
    rows = [person(1, "212", mms_capable="false")]
    env.start(CAMPAIGN.replace('id = "e2e"', 'id = "sms"'), rows)
    env.worker(Clock(at("2026-11-27T15:00:00+00:00"))).run(only="sms", until_idle=True)
    wait_for(lambda: len(env.sandbox.outbox()) == 1, what="the send")
    link = next(w for w in env.sandbox.outbox()[0]["body"].split() if "/c/i" in w)
    image = httpx.get(link, follow_redirects=True)
    assert image.headers["content-type"] == "image/jpeg"
