"""Telnyx as the provider (RENDERER_PROVIDER=telnyx), against a fake that speaks its
Messages API v2 and signs its webhooks with Ed25519: a campaign that names Telnyx where
Twilio is the default, end to end, receipts through the service's webhook, and every bad
webhook refused."""

import time
from collections import Counter

import httpx
import pytest

from renderer.core.errors import RendererError
from renderer.orchestrator import commands, compliance, keyring, keys, providers
from renderer.orchestrator.ledger import Ledger
from renderer.orchestrator.providers.base import Refused
from renderer.orchestrator.providers.telnyx import TelnyxProvider
from renderer.orchestrator.worker import Worker
from renderer.settings import CampaignSettings

from .campaign_env import ACCOUNT, TOKEN, Env, person, wait_for
from .conftest import Server
from .telnyx_fake import API_KEY, FakeTelnyx
from .test_campaign_ops import campaign


@pytest.fixture
def telnyx(tmp_path, redis_server):
    fake = FakeTelnyx()
    service = Server(
        tmp_path / "service.log",
        {
            "RENDERER_REDIS_URL": redis_server.url,
            "RENDERER_PROVIDER": "telnyx",
            "RENDERER_TELNYX_API_KEY": API_KEY,
            "RENDERER_TELNYX_PUBLIC_KEY": fake.public_key,
            "RENDERER_TWILIO_ACCOUNT_SID": ACCOUNT,
            "RENDERER_TWILIO_AUTH_TOKEN": TOKEN,
        },
    )
    yield fake, Env(redis_server.url, service, fake, tmp_path)
    service.stop()
    fake.stop()


def test_a_campaign_that_names_telnyx_where_twilio_is_the_default(telnyx):
    fake, env = telnyx
    rows = [person(i, "212", timezone="UTC", first_name="Ana") for i in range(12)]
    rows.append({**person(99, "212", timezone="UTC"), "phone": "+12125550666"})  # said STOP
    env.start('provider = "telnyx"\n' + campaign("telnyx", 100), rows)
    settings = CampaignSettings.from_env(
        env.environ(RENDERER_TELNYX_API_KEY=API_KEY, RENDERER_TELNYX_BASE_URL=fake.url)
    )
    assert settings.provider == "twilio"
    Worker(commands.setup(settings), "telnyx-test").run(only="telnyx", until_idle=True)
    sent = Counter(m["to"][0]["phone_number"] for m in fake.outbox)
    assert set(sent) == {r["phone"] for r in rows[:12]} and set(sent.values()) == {1}
    for message in fake.outbox:
        assert message["from"]["phone_number"] == "+15005550006" and "Ana" in message["text"]
        assert "sig=" in message["media"][0]["url"]
        assert message["webhook_url"] == f"{env.service.url}/v1/webhooks/status"
    ledger = Ledger(env.client, "telnyx")
    wait_for(lambda: ledger.totals().get("state:delivered", 0) == 12, what="signed receipts")
    stopped = compliance.phone_key(keyring.privacy_key(env.client), "+12125550666")
    assert ledger.record(stopped)["error"] == "40300", "opted out at Telnyx: failed"
    assert env.client.sismember(keys.SUPPRESSED, stopped), "and suppressed"


def test_telnyx_errors_mean_what_its_reference_says(telnyx):
    fake, _ = telnyx
    wrong = TelnyxProvider("not-the-key", fake.public_key, fake.url)
    with pytest.raises(Refused) as refused:
        wrong.send("+12125550100", "+15005550006", None, "hi", None, "http://127.0.0.1:9/")
    assert refused.value.code == "10009" and wrong.classify("10009") == "account"
    right = TelnyxProvider(API_KEY, fake.public_key, fake.url)
    with pytest.raises(Refused) as busy:
        right.send("+12125550429", "+15005550006", None, "hi", None, "http://127.0.0.1:9/")
    assert busy.value.code == "10011" and right.classify("10011") == "transient"
    assert right.classify("40300") == "opted_out" and right.classify("40001") == "recipient"


def test_telnyx_webhooks_are_verified(telnyx):
    fake, env = telnyx
    url = f"{env.service.url}/v1/webhooks/inbound"
    stop = {"event_type": "message.received", "id": "e1",
            "payload": {"id": "m1", "from": {"phone_number": "+12125550123"}, "text": "STOP",
                        "to": [{"phone_number": "+15005550006"}]}}  # fmt: skip
    body, headers = fake.signed(stop)
    impostor = FakeTelnyx()
    try:
        _, forged = impostor.signed(stop)
    finally:
        impostor.stop()
    old_body, old = fake.signed(stop, at=time.time() - 600)
    for name, content, sent_headers in [
        ("unsigned", body, {"content-type": "application/json"}),
        ("another key", body, forged),
        ("tampered", body.replace(b"STOP", b"STAR"), headers),
        ("replayed later", old_body, old),
        ("bad base64", body, {**headers, "telnyx-signature-ed25519": "%%%"}),
    ]:
        answer = httpx.post(url, content=content, headers=sent_headers)
        assert answer.status_code == 403, name
        assert answer.json()["error"]["code"] == "bad_signature", name
    number = compliance.phone_key(keyring.privacy_key(env.client), "+12125550123")
    assert not env.client.sismember(keys.SUPPRESSED, number)
    answer = httpx.post(url, content=body, headers=headers)
    assert answer.status_code == 200 and answer.json() == {}
    assert env.client.sismember(keys.SUPPRESSED, number)
    # a Twilio campaign's reply, at the same deployment: verified by Twilio's signature
    twilio = env.post_signed("/v1/webhooks/inbound", {"From": "+12125550124", "Body": "STOP"})
    assert twilio.status_code == 200 and "<Response><Message>" in twilio.text


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RENDERER_PROVIDER": "bandwidth"}, "RENDERER_PROVIDER must be twilio, telnyx or"),
        ({"RENDERER_PROVIDER": "telnyx"}, "set RENDERER_TELNYX_API_KEY"),
        (
            {"RENDERER_PROVIDER": "telnyx", "RENDERER_TELNYX_PUBLIC_KEY": "not a key!"},
            "RENDERER_TELNYX_PUBLIC_KEY must be a base64 Ed25519 key",
        ),
    ],
)
def test_telnyx_settings_that_cannot_work_say_so(env, message):
    with pytest.raises(RendererError, match=message):
        providers.create(CampaignSettings.from_env(env))
