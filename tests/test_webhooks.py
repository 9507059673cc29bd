"""The provider's webhooks and the tracked links, against a real service and a real Redis:
what a reply means (a table of the words people type), replays, a store that is down, URLs
with a query string, and link codes no one made."""

import itertools
from urllib.parse import quote

import httpx
import pytest
from twilio.request_validator import RequestValidator

from renderer.orchestrator import compliance, keyring, keys

from .conftest import RedisServer, Server

TOKEN = "webhook-test-token-0123"
STOPPED = "You are unsubscribed"
PARADO = "Te has dado de baja"
BACK = "You are subscribed again"
HELP = "Reply STOP to cancel"  # the end of the default RENDERER_HELP_TEXT
numbers = (f"+1212555{i:04d}" for i in itertools.count(1000))
message_ids = (f"SM{i:032x}" for i in itertools.count(1))

# (reply, meaning, answer): "stop", "start", "help" or None (an ordinary message)
REPLIES = [
    ("STOP", "stop", STOPPED),
    ("stop", "stop", STOPPED),
    ("  Stop.  ", "stop", STOPPED),
    ("STOP!", "stop", STOPPED),
    ("Stop!!!", "stop", STOPPED),
    ("STOPALL", "stop", STOPPED),
    ("Stop all", "stop", STOPPED),
    ("UNSUBSCRIBE", "stop", STOPPED),
    ("unsubscribe me", "stop", STOPPED),
    ("Unsub", "stop", STOPPED),
    ("CANCEL", "stop", STOPPED),
    ("END", "stop", STOPPED),
    ("End.", "stop", STOPPED),
    ("QUIT", "stop", STOPPED),
    ("Quit.", "stop", STOPPED),
    ("REVOKE", "stop", STOPPED),
    ("Revoke consent", "stop", STOPPED),
    ("OPTOUT", "stop", STOPPED),
    ("opt out", "stop", STOPPED),
    ("Opt-Out", "stop", STOPPED),
    ("stop please", "stop", STOPPED),
    ("Please stop", "stop", STOPPED),
    ("please stop texting me", "stop", STOPPED),
    ("stop sending so many", "stop", STOPPED),
    ("remove me", "stop", STOPPED),
    ("Remove me from this list", "stop", STOPPED),
    ("Take me off your list", "stop", STOPPED),
    ("no more", "stop", STOPPED),
    ("No more texts please", "stop", STOPPED),
    ("Don’t text me", "stop", STOPPED),
    ("do not contact me again", "stop", STOPPED),
    ("leave me alone", "stop", STOPPED),
    ("not interested", "stop", STOPPED),
    ("Wrong number", "stop", STOPPED),
    ("ＳＴＯＰ", "stop", STOPPED),
    ("stop 🛑", "stop", STOPPED),
    ("end these texts", "stop", STOPPED),
    ("yes stop", "stop", STOPPED),
    ("help me stop these", "stop", STOPPED),
    ("PARAR", "stop", PARADO),
    ("Para", "stop", PARADO),
    ("cancelar", "stop", PARADO),
    ("NO MÁS", "stop", PARADO),
    ("no mas mensajes", "stop", PARADO),
    ("Dar de baja", "stop", PARADO),
    ("Basta ya", "stop", PARADO),
    ("alto", "stop", PARADO),
    ("BAJA", "stop", PARADO),
    ("arrêter", "stop", "Vous êtes désabonné"),
    ("START", "start", BACK),
    ("Start!", "start", BACK),
    ("yes", "start", BACK),
    ("YES please", "start", BACK),
    ("unstop", "start", BACK),
    ("HELP", "help", HELP),
    ("help!", "help", HELP),
    ("info", "help", HELP),
    ("Ayuda", "help", HELP),
    ("what time is it", None, None),
    ("Thanks!", None, None),
    ("Love this deal", None, None),
    ("When does the sale end?", None, None),
    ("Is this still available?", None, None),
    ("¿Para cuándo es la oferta?", None, None),
    ("precio alto", None, None),
    ("nonstop fun", None, None),
    ("I stopped by the store", None, None),
    ("Yes, I'd like the blue one", None, None),
    ("", None, None),
]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    folder = tmp_path_factory.mktemp("webhooks")
    store = RedisServer(folder / "redis")
    running = Server(
        folder / "service.log",
        {"RENDERER_REDIS_URL": store.url, "RENDERER_TWILIO_AUTH_TOKEN": TOKEN},
    )
    yield running, store
    running.stop()
    store.stop()


def post(server: Server, path: str, form: dict[str, str], query: str = "") -> httpx.Response:
    url = f"{server.url}{path}" + (f"?{query}" if query else "")
    signature = RequestValidator(TOKEN).compute_signature(url, form)
    return httpx.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=30)


def reply(server: Server, number: str, body: str, message_id: str = "") -> httpx.Response:
    form = {"From": number, "Body": body, "MessageSid": message_id or next(message_ids)}
    return post(server, "/v1/webhooks/inbound", form)


def suppressed(store: RedisServer, number: str) -> bool:
    import redis

    client = redis.Redis.from_url(store.url, decode_responses=True)
    return bool(
        client.sismember(keys.SUPPRESSED, compliance.phone_key(keyring.privacy_key(client), number))
    )


@pytest.mark.parametrize(("body", "meaning", "answer"), REPLIES)
def test_what_a_reply_means(service, body, meaning, answer):
    server, store = service
    number = next(numbers)
    if meaning == "start":
        assert STOPPED in reply(server, number, "STOP").text
    response = reply(server, number, body)
    assert response.status_code == 200 and response.headers["content-type"] == "application/xml"
    if answer is None:
        assert response.text.endswith("<Response></Response>"), "no answer"
    else:
        assert f"<Message>{answer}" in response.text or (answer == HELP and HELP in response.text)
    assert suppressed(store, number) == (meaning == "stop")


def test_a_replayed_start_never_undoes_a_later_stop(service):
    server, store = service
    number = next(numbers)
    start_id = next(message_ids)
    assert BACK in reply(server, number, "START", start_id).text
    assert STOPPED in reply(server, number, "STOP").text
    replayed = reply(server, number, "START", start_id)  # the same signed request, again
    assert replayed.status_code == 200 and BACK in replayed.text, "the same answer as before"
    assert suppressed(store, number), "still unsubscribed"
    assert STOPPED in reply(server, number, "stop").text
    assert BACK in reply(server, number, "start").text, "a new START does re-subscribe"
    assert not suppressed(store, number)


def test_the_signature_covers_the_query_string(service):
    server, store = service
    number = next(numbers)
    form = {"From": number, "Body": "STOP", "MessageSid": next(message_ids)}
    signed = post(server, "/v1/webhooks/inbound", form, query="tenant=acme&x=%20y")
    assert signed.status_code == 200 and suppressed(store, number)
    url = f"{server.url}/v1/webhooks/inbound"
    without_query = RequestValidator(TOKEN).compute_signature(url, form)
    forged = httpx.post(
        url + "?tenant=other", data=form, headers={"X-Twilio-Signature": without_query}
    )
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "bad_signature"


@pytest.mark.parametrize(
    "code",
    [
        "abc.%C3%A9",
        "%C3%A9",
        "abc.%FF",
        "i%FF%FE",
        "%00",
        "abc.%00",
        "a" * 5000,
        "i" + "x" * 5000,
        ".",
        "abc.",
        ".sig",
        "%E2%80%AE",
        "..%2F..%2Fetc%2Fpasswd",
        "ZTJlfEF8MA.%C3%A9%C3%A9",
        "ZTJlfEF8OTk5OQ.AAAAAAAAAAAAAAAA",
    ],
)
def test_any_link_code_is_a_404_never_a_500(service, code):
    server, _ = service
    response = httpx.get(f"{server.url}/c/{code}")
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"


def test_a_store_that_is_down_answers_503_with_retry_after_and_nothing_is_lost(service):
    server, store = service
    number = next(numbers)
    store.stop()
    try:
        down = reply(server, number, "STOP")
        assert down.status_code == 503 and down.headers["retry-after"] == "5"
        assert down.json()["error"]["code"] == "store_unavailable"
        status = post(server, "/v1/webhooks/status", {"MessageSid": "SMx", "MessageStatus": "sent"})
        assert status.status_code == 503 and "retry-after" in status.headers
        link = httpx.get(f"{server.url}/c/{quote('ZTJlfEF8MA.abc')}")
        assert link.status_code == 503 and "retry-after" in link.headers
        assert "redis://" not in down.text and "Traceback" not in server.log()
    finally:
        store.start()
    again = reply(server, number, "STOP")  # the provider's retry
    assert again.status_code == 200 and STOPPED in again.text
    assert suppressed(store, number)


def test_receipts_before_the_message_id_is_known_are_held_then_applied_in_order(service):
    import redis

    from renderer.orchestrator import receipts
    from renderer.orchestrator.ledger import Ledger
    from renderer.orchestrator.providers.twilio import TwilioProvider

    server, store = service
    client = redis.Redis.from_url(store.url, decode_responses=True)
    ledger = Ledger(client, "held")
    ledger.start({"id": "held", "variants": [{"name": "A"}]})
    ledger.create_many([("k1", "pending", "A", {"phone": "+12125550100"})])
    assert ledger.claim("k1") == "ok"
    status = "/v1/webhooks/status"
    for state in ("delivered", "sent", "delivered", "queued"):  # early, out of order, twice
        answer = post(server, status, {"MessageSid": "SMheld", "MessageStatus": state})
        assert answer.status_code == 204
    assert ledger.record("k1")["state"] == "sending", "nothing applied to an unknown id"
    assert 0 < client.ttl(keys.held_receipts("SMheld")) <= receipts.HOLD_SECONDS
    assert ledger.move("k1", ["sending"], "accepted", sid="SMheld")
    classify = TwilioProvider("ACtest", TOKEN, "http://127.0.0.1:9").classify
    held = receipts.own(client, "SMheld", "held", "k1")  # what the worker does next
    receipts.apply_held(client, "SMheld", "held", "k1", held, classify)
    assert ledger.record("k1")["state"] == "delivered"
    assert not client.exists(keys.held_receipts("SMheld"))
    late = post(server, status, {"MessageSid": "SMheld", "MessageStatus": "sent"})
    assert late.status_code == 204 and ledger.record("k1")["state"] == "delivered"
    totals = ledger.totals()
    assert totals["state:delivered"] == 1 and totals.get("state:sent", 0) == 0
    # a failure reported for an earlier attempt never touches the current one
    ledger.create_many([("k2", "pending", "A", {"phone": "+12125550101"})])
    assert ledger.claim("k2") == "ok" and ledger.move("k2", ["sending"], "accepted", sid="SMnew")
    client.set(keys.message_owner("SMold"), "held|k2")
    post(server, status, {"MessageSid": "SMold", "MessageStatus": "failed", "ErrorCode": "30003"})
    assert ledger.record("k2")["state"] == "accepted"
    # an account error reported in a receipt pauses the campaign
    client.set(keys.message_owner("SMnew"), "held|k2")
    post(server, status, {"MessageSid": "SMnew", "MessageStatus": "failed", "ErrorCode": "30034"})
    assert ledger.record("k2")["state"] == "failed" and ledger.control()["state"] == "paused"
    assert "30034" in ledger.control()["reason"]
