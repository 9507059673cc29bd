"""The embedded Redis: one per data folder, whoever starts first, and a STOP always lands."""

import os
import subprocess
import sys

import httpx
import redis
from twilio.request_validator import RequestValidator

from renderer import embedded
from renderer.orchestrator import compliance, keyring, keys

from .conftest import ROOT

TOKEN = "embedded-test-token"


def test_processes_started_together_share_one_embedded_redis(tmp_path):
    folder = tmp_path / "data"
    code = (
        "import sys; from pathlib import Path; from renderer import embedded; "
        "print(embedded.ensure(Path(sys.argv[1])))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENDERER_")}
    started = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(folder)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        urls = {process.communicate(timeout=60)[0].strip() for process in started}
        assert len(urls) == 1 and urls != {""}, urls
        where = urls.pop()
        pid = int((folder / embedded.PID_FILE).read_text())
        client = redis.Redis.from_url(where)
        assert client.info("server")["process_id"] == pid
        logs = (folder / embedded.LOG_FILE).read_text()
        assert logs.count("Ready to accept connections") == 1, "one redis-server was started"
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert embedded.find(folder) is not None
    finally:
        embedded.stop(folder)
    assert embedded.find(folder) is None


def test_a_stop_before_any_campaign_is_kept(start_server):
    """No RENDERER_REDIS_URL and no campaign command ever run: the service uses the data
    folder's embedded Redis (it started it for its template store), and the opt-out is there
    afterwards."""
    server = start_server({"RENDERER_TWILIO_AUTH_TOKEN": TOKEN})
    assert embedded.find(server.data_dir) is not None, "the service's template store"
    url = f"{server.url}/v1/webhooks/inbound"
    form = {"From": "+12125550188", "Body": "STOP", "MessageSid": "SMfirst"}
    signature = RequestValidator(TOKEN).compute_signature(url, form)
    reply = httpx.post(url, data=form, headers={"X-Twilio-Signature": signature})
    assert reply.status_code == 200 and "unsubscribed" in reply.text
    server.process.terminate()  # the service is gone; the store and the opt-out are not
    server.process.wait(timeout=10)
    where = embedded.find(server.data_dir)
    assert where is not None
    client = redis.Redis.from_url(where, decode_responses=True)
    key = compliance.phone_key(keyring.privacy_key(client), "+12125550188")
    assert client.sismember(keys.SUPPRESSED, key)
