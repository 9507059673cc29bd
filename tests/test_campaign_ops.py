"""Campaigns under stress and over time: workers on several processes sharing a rate limit,
429 storms, a worker killed mid-campaign, webhooks, and forgetting a person."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import httpx
import redis

from renderer.orchestrator import compliance, keyring, keys
from renderer.orchestrator.ledger import Ledger
from renderer.orchestrator.report import gather

from .campaign_env import ACCOUNT, TOKEN, Env, Sandbox, person, wait_for
from .conftest import ROOT, run_cli

ALWAYS_OPEN = """
id = "{id}"
template = "product_reveal"
body = "{{{{ first_name }}}}, launch day: 20% off https://shop.example.com/new"
fallback_body = "{{{{ first_name }}}}: {{{{ image_link }}}}"

[[senders]]
number = "+15005550006"
mps = {mps}

[quiet_hours]
start = "00:00"
end = "23:59:59.999999"

[frequency_cap]
messages = 100
hours = 24
"""


def campaign(cid: str, mps: float) -> str:
    return ALWAYS_OPEN.format(id=cid, mps=mps)


def audience(count: int, start: int = 0) -> list[dict]:
    return [person(start + i, "212", timezone="UTC") for i in range(count)]


def start_worker(env: Env, cid: str, **extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "renderer", "worker", "--campaign", cid],
        cwd=ROOT,
        env={**os.environ, **env.environ(**extra)},
        stdout=subprocess.DEVNULL,
        stderr=open(env.tmp / f"worker-{time.monotonic_ns()}.log", "wb"),
    )


def settled(env: Env, cid: str) -> bool:
    ledger = Ledger(env.client, cid)
    return ledger.redis.hget(ledger.counts, "enqueued") == "1" and ledger.open_work() == 0


def test_two_workers_on_one_5_mps_number_never_exceed_5_a_second(campaign_env):
    env = campaign_env
    env.start(campaign("ratelimit", 5), audience(40))
    workers = [start_worker(env, "ratelimit") for _ in range(2)]
    try:
        wait_for(lambda: len(env.sandbox.outbox()) == 40, timeout=60, what="40 sends")
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=10)
    times = sorted(m["received_at"] for m in env.sandbox.outbox())
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 5, busiest
    assert times[-1] - times[0] >= (40 - 5) / 5 * 0.9, "and it did not crawl either"


def test_a_429_storm_is_retried_until_every_send_is_accepted(campaign_env):
    env = campaign_env
    stormy = Sandbox(env.tmp / "storm.log", storm_rate=0.5)
    try:
        storm_env = Env(env.redis_url, env.service, stormy, env.tmp)
        storm_env.start(campaign("storm", 200), audience(30))
        storm_env.worker().run(only="storm", until_idle=True)
        outbox = stormy.outbox()
        assert Counter(m["to"] for m in outbox) == Counter(r["phone"] for r in audience(30))
        # a send that stayed busy through every retry waited and went later, not failed
        totals = Ledger(env.client, "storm").totals()
        assert totals.get("state:failed", 0) == 0 and totals.get("state:ambiguous", 0) == 0
    finally:
        stormy.stop()


def test_kill_9_mid_campaign_then_another_worker_finishes_exactly_once(campaign_env):
    env = campaign_env
    rows = audience(2000)
    env.start(campaign("crash", 1000), rows)
    first = start_worker(env, "crash", RENDERER_CLAIM_SECONDS="2")
    wait_for(lambda: len(env.sandbox.outbox()) >= 400, timeout=120, what="400 sends")
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    second = start_worker(env, "crash", RENDERER_CLAIM_SECONDS="2")
    try:
        wait_for(lambda: settled(env, "crash"), timeout=240, what="the campaign to settle")
    finally:
        second.terminate()
        second.wait(timeout=10)
    report = gather(Ledger(env.client, "crash"))
    ambiguous = {item["phone"] for item in report["ambiguous"]}
    sent = Counter(m["to"] for m in env.sandbox.outbox())
    everyone = {r["phone"] for r in rows}
    assert {p for p, n in sent.items() if n > 1} == set(), "nobody twice"
    assert everyone - set(sent) <= ambiguous, "nobody missing but the ambiguous, listed"
    assert report["states"]["pending"] == report["states"]["sending"] == 0


def test_status_webhook_checks_its_signature_and_never_goes_backwards(campaign_env):
    env = campaign_env
    client = env.client
    ledger = Ledger(client, "receipts")
    ledger.start({"id": "receipts", "variants": [{"name": "A"}]})
    ledger.create_many([("k1", "pending", "A", {"phone": "+12125550100"})])
    assert ledger.move("k1", ["pending"], "sending")
    assert ledger.move("k1", ["sending"], "accepted", sid="SM1")
    client.set(keys.message_owner("SM1"), "receipts|k1")

    forged = httpx.post(
        f"{env.service.url}/v1/webhooks/status",
        data={"MessageSid": "SM1", "MessageStatus": "delivered"},
        headers={"X-Twilio-Signature": "forged"},
    )
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "bad_signature"
    assert ledger.record("k1")["state"] == "accepted", "nothing recorded"
    unsigned = httpx.post(f"{env.service.url}/v1/webhooks/status", data={"MessageSid": "SM1"})
    assert unsigned.status_code == 403

    status = "/v1/webhooks/status"
    assert (
        env.post_signed(status, {"MessageSid": "SM1", "MessageStatus": "delivered"}).status_code
        == 204
    )
    assert (
        env.post_signed(status, {"MessageSid": "SM1", "MessageStatus": "sent"}).status_code == 204
    )
    assert ledger.record("k1")["state"] == "delivered", "a late 'sent' does not overwrite it"
    assert (
        env.post_signed(status, {"MessageSid": "SMnope", "MessageStatus": "sent"}).status_code
        == 204
    )
    wrong_token = env.post_signed(
        status, {"MessageSid": "SM1", "MessageStatus": "failed"}, token="another-token"
    )
    assert wrong_token.status_code == 403 and ledger.record("k1")["state"] == "delivered"


def test_inbound_keywords_answer_twiml(campaign_env):
    env = campaign_env
    number = "+12125550142"
    key = compliance.phone_key(keyring.privacy_key(env.client), number)
    help_reply = env.post_signed("/v1/webhooks/inbound", {"From": number, "Body": "help"})
    assert help_reply.headers["content-type"] == "application/xml"
    assert "Reply STOP to cancel" in help_reply.text
    env.post_signed("/v1/webhooks/inbound", {"From": number, "Body": "Quit"})
    assert env.client.sismember(keys.SUPPRESSED, key)
    back = env.post_signed("/v1/webhooks/inbound", {"From": number, "Body": "START"})
    assert "subscribed again" in back.text and not env.client.sismember(keys.SUPPRESSED, key)
    other = env.post_signed("/v1/webhooks/inbound", {"From": number, "Body": "what time is it"})
    assert other.text.endswith("<Response></Response>")


def test_forget_erases_the_person_but_keeps_the_opt_out(campaign_env):
    env = campaign_env
    rows = audience(2, start=500)
    env.start(campaign("forget", 100), rows)
    env.worker().run(only="forget", until_idle=True)
    wait_for(lambda: len(env.sandbox.outbox()) == 2, what="two sends")
    number = rows[0]["phone"]
    env.post_signed("/v1/webhooks/inbound", {"From": number, "Body": "STOP"})
    key = compliance.phone_key(keyring.privacy_key(env.client), number)
    waiting = Ledger(env.client, "forget-waiting")  # another campaign, not yet sent to them
    waiting.start({"id": "forget-waiting", "variants": [{"name": "A"}]})
    waiting.create_many([(key, "pending", "A", {"phone": number})])
    images_before = len(env.client.keys("mms:img:*"))
    done = subprocess.run(
        [sys.executable, "-m", "renderer", "recipients", "forget", number],
        cwd=ROOT,
        env={**os.environ, **env.environ()},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "1 cached images purged" in done.stdout
    record = Ledger(env.client, "forget").record(key)
    assert record["forgotten"] == "1" and "phone" not in record and "values" not in record
    assert record["state"] in ("accepted", "sent", "delivered")
    unsent = waiting.record(key)
    assert (unsent["state"], unsent["reason"], "phone" in unsent) == ("skipped", "forgotten", False)
    assert env.client.sismember(keys.SUPPRESSED, key), "still unsubscribed"
    assert len(env.client.keys("mms:img:*")) == images_before - 1
    assert "Person500" not in str(
        env.client.hgetall(Ledger(env.client, "forget").recipient_key(key))
    )


def test_campaign_cli_send_and_report(campaign_env, tmp_path):
    env = campaign_env
    (tmp_path / "c.toml").write_text(campaign("cli", 100))
    from .campaign_env import write_audience

    write_audience(tmp_path / "a.csv", [*audience(3, start=700), {"phone": "nope"}])
    run_env = {**os.environ, **env.environ()}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "renderer",
            "campaign",
            "send",
            str(tmp_path / "c.toml"),
            "--audience",
            str(tmp_path / "a.csv"),
            "--until-idle",
        ],
        cwd=ROOT,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "4 rows, 3 queued" in done.stdout and "1 bad rows" in done.stdout
    assert "sent 3" in done.stderr  # the progress line
    html = tmp_path / "r.html"
    report = subprocess.run(
        [sys.executable, "-m", "renderer", "campaign", "report", "cli", "--html", str(html)],
        cwd=ROOT,
        env=run_env,
        capture_output=True,
        text=True,
    )
    assert report.returncode == 0 and "campaign cli" in report.stdout
    assert "row 5: unreadable phone number 'nope'" in report.stdout
    assert "<svg" in html.read_text() and "Sends per minute" in html.read_text()
    head, row = variant_table(html.read_text())  # a table, not JSON: one column per state
    assert head[0] == "variant" and head[-2:] == ["clicks", "click-through"]
    assert set(head[1:-2]) <= {"accepted", "sent", "delivered"} and row[0] == "A"
    assert sum(int(n) for n in row[1:-2]) == 3 and [c.strip() for c in row[-2:]] == ["0", "0.0%"]
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "renderer",
            "campaign",
            "send",
            str(tmp_path / "c.toml"),
            "--audience",
            str(tmp_path / "none.csv"),
        ],
        cwd=ROOT,
        env=run_env,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "no audience file" in missing.stderr


def variant_table(page: str) -> list[list[str]]:
    """The cells of the report's variant table, as an HTML parser reads them."""
    from html.parser import HTMLParser

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows, self.inside, self.cell = [], False, None

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                self.inside = ("id", "variants") in attrs
            elif self.inside and tag == "tr":
                self.rows.append([])
            elif self.inside and tag in ("td", "th"):
                self.cell = ""

        def handle_endtag(self, tag):
            if self.inside and tag in ("td", "th"):
                self.rows[-1].append(self.cell)
                self.cell = None
            elif tag == "table":
                self.inside = False

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

    parser = Cells()
    parser.feed(page)
    return parser.rows


def test_embedded_redis_without_a_url(tmp_path):
    """Without RENDERER_REDIS_URL a campaign command starts (and reuses) an embedded Redis
    with append-only persistence in the data folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENDERER_")}
    env["RENDERER_DATA_DIR"] = str(tmp_path / "data")
    code = (
        "from renderer.orchestrator import redis_store as r; "
        "from renderer.settings import CampaignSettings as S; "
        "r.connect(S.from_env()).set('x', '1'); print(r.url(S.from_env()))"
    )
    first = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    second = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout, "the second command reuses it"
    client = redis.Redis.from_url(first.stdout.strip())
    assert client.config_get("appendonly")["appendonly"] == "yes"
    client.shutdown(nosave=True)


def test_failures_are_recorded_with_their_code_and_can_be_retried(campaign_env):
    env = campaign_env
    failing = Sandbox(env.tmp / "failing.log", failure_rate=1.0)
    try:
        failing_env = Env(env.redis_url, env.service, failing, env.tmp)
        failing_env.start(campaign("failing", 200), audience(5, start=900))
        failing_env.worker().run(only="failing", until_idle=True)
        ledger = Ledger(env.client, "failing")
        wait_for(lambda: ledger.totals().get("state:failed", 0) == 5, what="5 failures")
        assert gather(ledger)["errors"] == {"30003": 5}
    finally:
        failing.stop()
    # then sent again, to a provider that delivers, by the failures' code
    other = run_cli(
        "campaign", "retry", "failing", "--failed", "--code", "21211", env=env.environ()
    )
    assert other.returncode == 0 and "0 recipients that failed with 21211" in other.stdout
    retried = run_cli(
        "campaign", "retry", "failing", "--failed", "--code", "30003", "--until-idle",
        env=env.environ(),
    )  # fmt: skip
    assert retried.returncode == 0, retried.stderr
    assert "5 recipients that failed with 30003 queued again" in retried.stdout
    assert sorted(m["to"] for m in env.sandbox.outbox()) == [
        r["phone"] for r in audience(5, start=900)
    ]
    wait_for(lambda: ledger.totals().get("state:delivered", 0) == 5, what="5 deliveries")
    assert gather(ledger)["retried_failed"] == 5


def test_the_sandbox_rejects_media_like_a_carrier(campaign_env, tmp_path):
    """Over 600 KB: 30019; not an image: 30008."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Media(BaseHTTPRequestHandler):
        def do_GET(self):
            big = self.path == "/big.jpg"
            body = b"\xff\xd8" + b"\0" * (700_000 if big else 10)
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg" if big else "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    media = ThreadingHTTPServer(("127.0.0.1", 0), Media)
    threading.Thread(target=media.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{media.server_port}"
    try:
        sandbox = campaign_env.sandbox
        for path in ("/big.jpg", "/page.html"):
            response = httpx.post(
                f"{sandbox.url}/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
                auth=(ACCOUNT, TOKEN),
                data={
                    "To": "+12125550199",
                    "From": "+15005550006",
                    "Body": "x",
                    "MediaUrl": base + path,
                },
            )
            assert response.status_code == 201 and response.json()["sid"].startswith("SM")
        wait_for(lambda: all(m["status"] == "failed" for m in sandbox.outbox()), what="failures")
        codes = [m["error_code"] for m in sandbox.outbox()]
        assert codes == ["30019", "30008"]
        wrong = httpx.post(
            f"{sandbox.url}/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
            auth=(ACCOUNT, "wrong"),
            data={"To": "+1"},
        )
        assert wrong.status_code == 401
    finally:
        media.shutdown()


def test_a_scheduled_campaign_waits_for_its_start(campaign_env):
    from .campaign_env import Clock, at

    env = campaign_env
    env.start(_with_schedule(campaign("later", 200)), audience(2, start=950))
    clock = Clock(at("2026-11-27T17:00:00+00:00"))
    worker = env.worker(clock)
    assert worker.step(Ledger(env.client, "later")) == 0
    assert env.sandbox.outbox() == []
    clock.now = at("2026-11-27T18:00:01+00:00")
    worker.run(only="later", until_idle=True)
    wait_for(lambda: len(env.sandbox.outbox()) == 2, what="the scheduled sends")


def _with_schedule(text: str) -> str:
    return text.replace("[[senders]]", 'schedule = "2026-11-27T18:00:00Z"\n\n[[senders]]', 1)
