"""Compliance at the moment of sending, end to end: the render service, Redis, workers as
separate processes, and the sandbox provider speaking Twilio's API in its chaos mode (status
callbacks in random order, repeated, half of them before the create call answers; 429s)."""

import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from renderer.orchestrator import compliance, keyring
from renderer.orchestrator.ledger import Ledger
from renderer.orchestrator.report import gather

from .campaign_env import Env, Sandbox, wait_for, write_audience
from .conftest import ROOT, free_port, run_cli
from .test_campaign_ops import audience, campaign, settled, start_worker


def test_no_send_starts_after_an_acknowledged_stop_on_two_workers(campaign_env):
    """STOPs race a running campaign on two workers, aimed at the recipients next in line;
    for each, no message reaches the provider after the STOP's answer, and every receipt
    (out of order, repeated, early) ends up in the ledger."""
    env = campaign_env
    chaos = Sandbox(env.tmp / "chaos.log", storm_rate=0.15, chaos=True)
    env = Env(env.redis_url, env.service, chaos, env.tmp)
    rows = audience(240, start=3000)
    everyone = [row["phone"] for row in rows]
    env.start(campaign("race", 40), rows)
    workers = [start_worker(env, "race") for _ in range(2)]
    acknowledged: dict[str, float] = {}
    done = threading.Event()

    def stop_the_next_ones() -> None:
        rng = random.Random(7)
        while not done.is_set() and len(acknowledged) < 40:
            sent = {m["to"] for m in chaos.outbox()}
            upcoming = [p for p in everyone if p not in sent and p not in acknowledged][:12]
            if not upcoming:
                return
            number = rng.choice(upcoming)
            answer = env.post_signed(
                "/v1/webhooks/inbound",
                {"From": number, "Body": "Stop please", "MessageSid": f"SM{number[1:]}"},
            )
            assert answer.status_code == 200 and "unsubscribed" in answer.text
            acknowledged[number] = time.time()
            time.sleep(rng.uniform(0.05, 0.3))

    stopper = threading.Thread(target=stop_the_next_ones)
    stopper.start()
    try:
        wait_for(lambda: settled(env, "race"), timeout=240, what="the campaign to settle")
    finally:
        done.set()
        stopper.join()
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=10)
    outbox = chaos.outbox()
    late = [
        (m["to"], m["received_at"] - acknowledged[m["to"]])
        for m in outbox
        if m["to"] in acknowledged and m["received_at"] >= acknowledged[m["to"]]
    ]
    assert late == [], "sent after the STOP was acknowledged"
    sent = Counter(m["to"] for m in outbox)
    assert max(sent.values()) == 1, "nobody twice"
    assert set(everyone) - set(sent) <= set(acknowledged), "nobody missing but the stopped"
    report = gather(Ledger(env.client, "race"))
    assert report["skipped"]["suppressed"] == len(set(everyone) - set(sent)) > 0
    assert report["retries"].get("20429", 0) > 0, "the provider's 429s were retried"

    ledger = Ledger(env.client, "race")
    secret = keyring.privacy_key(env.client)

    def receipts_applied() -> bool:
        for message in chaos.outbox():
            record = ledger.record(compliance.phone_key(secret, message["to"]))
            if (record.get("sid"), record.get("state")) != (message["sid"], message["status"]):
                return False
        return True

    wait_for(receipts_applied, timeout=60, what="every receipt in the ledger")
    assert ledger.totals()["state:delivered"] == len(sent)
    logs = "".join(p.read_text() for p in Path(env.tmp).glob("worker-*.log"))
    assert "race: sent" in logs and "/s" in logs, "workers print their progress"
    chaos.stop()


def test_an_auth_error_pauses_and_resume_sends_everyone_once(campaign_env, tmp_path):
    env = campaign_env
    (tmp_path / "c.toml").write_text(campaign("auth", 100))
    write_audience(tmp_path / "a.csv", audience(20, start=4000))
    send = ["campaign", "send", str(tmp_path / "c.toml"), "--audience", str(tmp_path / "a.csv")]
    wrong = env.environ(RENDERER_TWILIO_AUTH_TOKEN="a-token-that-was-rotated")
    paused = run_cli(*send, "--until-idle", env=wrong)
    assert paused.returncode == 1, paused.stderr
    assert "PAUSED: the provider refused the account" in paused.stderr and "20003" in paused.stderr
    assert "mms-renderer campaign resume auth" in paused.stderr
    totals = Ledger(env.client, "auth").totals()
    assert totals.get("state:failed", 0) == 0 and totals["state:pending"] == 20
    assert env.sandbox.outbox() == []
    status = run_cli("campaign", "status", "auth", env=env.environ())
    assert status.returncode == 0 and "PAUSED" in status.stdout and "pending 20" in status.stdout
    again = run_cli(*send, env=env.environ())
    assert again.returncode == 2 and "campaign auth is paused" in again.stderr

    resumed = run_cli("campaign", "resume", "auth", "--until-idle", env=env.environ())
    assert resumed.returncode == 0, resumed.stderr
    sent = Counter(m["to"] for m in env.sandbox.outbox())
    assert sent == Counter(r["phone"] for r in audience(20, start=4000)), "everyone, once"
    assert "RUNNING" in run_cli("campaign", "status", "auth", env=env.environ()).stdout
    unknown = run_cli("campaign", "status", "no-such-id", env=env.environ())
    assert unknown.returncode == 2 and "no campaign 'no-such-id'; known: auth" in unknown.stderr


def test_an_unreachable_provider_is_retried_and_shown_until_it_answers(campaign_env, tmp_path):
    env = campaign_env
    port = free_port()
    (tmp_path / "c.toml").write_text(campaign("down", 100))
    write_audience(tmp_path / "a.csv", audience(5, start=5000))
    log = tmp_path / "send.log"
    command = ["campaign", "send", str(tmp_path / "c.toml"), "--audience", str(tmp_path / "a.csv")]
    with open(log, "wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "renderer", *command, "--until-idle"],
            cwd=ROOT,
            env={**os.environ, **env.environ(RENDERER_TWILIO_BASE_URL=f"http://127.0.0.1:{port}")},
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    provider = None
    try:
        wait_for(lambda: "cannot reach" in log.read_text(), timeout=60, what="the error shown")
        assert "retrying" in log.read_text() and "pending 5" in log.read_text()
        assert Ledger(env.client, "down").totals().get("state:failed", 0) == 0
        provider = Sandbox(tmp_path / "late.log", port=port)
        assert process.wait(timeout=120) == 0
        assert sorted(m["to"] for m in provider.outbox()) == [
            r["phone"] for r in audience(5, start=5000)
        ]
    finally:
        if process.poll() is None:
            process.kill()
        if provider:
            provider.stop()


def test_commands_name_what_is_missing(tmp_path):
    empty = {
        "RENDERER_REDIS_URL": "",
        "RENDERER_DATA_DIR": str(tmp_path / "no-data-here"),
    }
    for command in (["status", "x"], ["report", "x"], ["pause", "x"]):
        done = run_cli("campaign", *command, env=empty)
        assert done.returncode == 2
        assert f"no campaign data in the data folder {tmp_path / 'no-data-here'}" in done.stderr
    dead = run_cli(
        "campaign", "status", "x", env={"RENDERER_REDIS_URL": f"redis://127.0.0.1:{free_port()}"}
    )
    assert dead.returncode == 2 and "cannot reach Redis at redis://127.0.0.1:" in dead.stderr
    assert "Traceback" not in dead.stderr
