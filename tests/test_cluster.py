"""The same code on a Redis Cluster (RENDERER_REDIS_URL=redis+cluster://...): three masters
started by the tests from the same redis-server binary, a campaign worked by two worker
processes (one killed mid-campaign), receipts through the service's webhook, and the
service's L2 image cache in the cluster."""

import os
import signal
from collections import Counter

import httpx
import redis

from renderer import redis_client
from renderer.orchestrator.ledger import Ledger
from renderer.orchestrator.report import gather
from renderer.service import keys
from renderer.service.cache import Entry

from .campaign_env import ACCOUNT, TOKEN, Env, Sandbox, person, wait_for
from .conftest import Server
from .test_campaign_ops import campaign, settled, start_worker


def test_a_campaign_on_a_three_master_cluster(tmp_path, redis_cluster):
    service_env = {
        "RENDERER_REDIS_URL": redis_cluster.url,
        "RENDERER_TWILIO_ACCOUNT_SID": ACCOUNT,
        "RENDERER_TWILIO_AUTH_TOKEN": TOKEN,
    }
    sandbox = Sandbox(tmp_path / "sandbox.log")
    service = Server(tmp_path / "service.log", service_env)
    try:
        env = Env(redis_cluster.url, service, sandbox, tmp_path)
        rows = [person(i, "212", timezone="UTC", first_name="Ana") for i in range(150)]
        env.start(campaign("cluster", 1000), rows)
        workers = [start_worker(env, "cluster", RENDERER_CLAIM_SECONDS="2") for _ in range(2)]
        wait_for(lambda: len(sandbox.outbox()) >= 40, timeout=120, what="40 sends")
        os.kill(workers[0].pid, signal.SIGKILL)
        workers[0].wait()
        try:
            wait_for(lambda: settled(env, "cluster"), timeout=120, what="the campaign to settle")
        finally:
            workers[1].terminate()
            workers[1].wait(timeout=10)
        report = gather(Ledger(env.client, "cluster"))
        sent = Counter(m["to"] for m in sandbox.outbox())
        assert max(sent.values()) == 1, "nobody twice"
        ambiguous = {item["phone"] for item in report["ambiguous"]}
        assert {r["phone"] for r in rows} - set(sent) <= ambiguous, "nobody missing"
        ledger = Ledger(env.client, "cluster")
        wait_for(
            lambda: ledger.totals().get("state:delivered", 0) == len(sent),
            what="every receipt applied through the service's webhook",
        )
        # the keys really are spread over the three masters
        sizes = [redis.Redis.from_url(url).dbsize() for _, url in redis_cluster.nodes]
        assert all(size > 0 for size in sizes), sizes
        # the image the provider fetched sits in the cluster: the service's L2 cache
        image = httpx.get(sandbox.outbox()[0]["media_url"], timeout=30)
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        stored = redis_client.connect(redis_cluster.url).get(
            keys.image(image.headers["etag"].strip('"'))
        )
        assert stored is not None and Entry.unpack(stored).data == image.content
    finally:
        service.stop()
        sandbox.stop()
