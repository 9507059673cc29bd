"""The campaigns' HTTP surface, which the render service mounts: the one seam between them.

``POST /v1/webhooks/status`` (delivery receipts), ``POST /v1/webhooks/inbound`` (replies:
STOP, START, HELP), ``GET /c/{code}`` (tracked links), and the studio's test messages
(``POST /v1/test-sends``, ``GET /v1/test-sends/{sid}``: ``testsend.py``), which check the
API key with the service's ``authorize``, handed over when the app is assembled.

Webhooks are verified by the provider (``providers/``) over the full URL it called, query
string included, before anything is read. Every route needs the campaigns' Redis
(RENDERER_REDIS_URL, else the data folder's embedded one, started on first use if no campaign
command has started it yet: a STOP always has somewhere durable to go). When that store
cannot be reached they answer 503 with Retry-After, never 500: the provider retries a
webhook it could not deliver, so a STOP that arrives while Redis restarts is not lost.
"""

import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import redis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from renderer.core.errors import RendererError
from renderer.orchestrator import (
    keyring,
    keys,
    providers,
    receipts,
    redis_store,
    testsend,
    webhooks,
)
from renderer.orchestrator.keywords import Keyword
from renderer.orchestrator.providers.base import (
    Ambiguous,
    Provider,
    Refused,
    Unreachable,
    WebhookRejected,
)
from renderer.settings import CampaignSettings

ANSWERS = {
    ("stop", "en"): "You are unsubscribed and will receive no more messages. Reply START to "
    "subscribe again.",
    ("stop", "es"): "Te has dado de baja y no recibirás más mensajes. Responde START para "
    "volver a suscribirte.",
    ("stop", "fr"): "Vous êtes désabonné et ne recevrez plus de messages. Répondez START pour "
    "vous réabonner.",
    ("start", "en"): "You are subscribed again. Reply STOP to cancel.",
}
RETRY_SECONDS = 5
STORE_DOWN = "the campaigns' store (Redis) is not answering; try again shortly"
log = logging.getLogger(__name__)


class WebhookSignatureError(RendererError):
    code = "bad_signature"
    status = 403


class CampaignsUnavailable(RendererError):
    code = "not_configured"
    status = 503


class StoreUnavailable(RendererError):
    code = "store_unavailable"
    status = 503
    retry_after = RETRY_SECONDS


class NoSuchLink(RendererError):
    code = "not_found"
    status = 404


class ProviderFailed(RendererError):
    """The provider refused a test message, or could not be reached: what it said."""

    code = "provider_error"
    status = 502


class CampaignRoutes:
    """The routes, and what they share: settings, the provider, the campaigns' Redis."""

    def __init__(self, settings: CampaignSettings, authorize: Callable[[Request], str]):
        self.settings = settings
        self.authorize = authorize  # who is asking (the service's API keys), or Unauthorized
        self._redis: redis.Redis | None = None
        self._providers = providers.Providers(settings)
        self.routes: list[BaseRoute] = [
            Route("/v1/webhooks/status", self.status, methods=["POST"]),
            Route("/v1/webhooks/inbound", self.inbound, methods=["POST"]),
            Route("/c/{code}", self.tracked_link),
            Route("/v1/test-sends", self.test_send, methods=["POST"]),
            Route("/v1/test-sends/{sid}", self.test_message),
        ]

    async def status(self, request: Request) -> Response:
        """A delivery receipt: moves the recipient's record forward (or is held until the
        message id is known)."""
        update = await self._verified(request, "status_update")
        classify = self._provider_or_fail(request.headers).classify
        await self._in_store(receipts.record_status, update, classify)
        return Response(status_code=204)

    async def inbound(self, request: Request) -> Response:
        """A reply: an opt-out, an opt-in or a help request, answered in the provider's
        format (nothing for any other message)."""
        message = await self._verified(request, "inbound")

        def handle(client: redis.Redis) -> Keyword | None:
            secret = keyring.privacy_key(client, self.settings.privacy_key)
            return webhooks.inbound(client, secret, message.phone, message.body, message.message_id)

        word = await self._in_store(handle)
        answer = None
        if word is not None:
            answer = (
                self.settings.help_text
                if word.kind == "help"
                else ANSWERS.get((word.kind, word.language), ANSWERS.get((word.kind, "en")))
            )
        body, media_type = self._provider_or_fail(request.headers).reply(answer)
        return Response(body, media_type=media_type)

    async def tracked_link(self, request: Request) -> Response:
        """Count the click and redirect to the link with its UTM parameters."""
        target = await self._in_store(webhooks.click, request.path_params["code"])
        if target is None:
            raise NoSuchLink("no such link")
        return RedirectResponse(target, status_code=302)

    async def test_send(self, request: Request) -> JSONResponse:
        """One real message from the studio, once the compliance rules allow it; the answer
        is the provider's, and ``GET /v1/test-sends/{sid}`` follows its receipts."""
        who = self.authorize(request)
        wanted = testsend.read(await _json(request), self.settings.public_url)
        provider = self._provider_or_fail()
        if not self.settings.test_from:
            raise CampaignsUnavailable("set RENDERER_TEST_FROM: the number test messages come from")
        now = datetime.now(UTC)
        key = await self._in_store(testsend.check, self.settings.privacy_key, wanted.phone, now)
        callback = self.settings.public_url + "/v1/webhooks/status"
        sender = self.settings.test_from
        try:
            accepted = await run_in_threadpool(testsend.send, provider, sender, wanted, callback)
        except Refused as exc:
            raise ProviderFailed(f"{provider.name} refused it: {exc.code} {exc.message}") from None
        except (Unreachable, Ambiguous) as exc:
            where = self.settings.twilio_base_url
            hint = ""
            if provider.name == "sandbox":
                hint = " (start it: mms-renderer sandbox-provider)"
            raise ProviderFailed(f"{provider.name} at {where}{hint}: {exc}") from None

        def keep(client: redis.Redis) -> dict[str, Any]:
            kept = testsend.record(client, accepted, wanted, key, who, provider.name)
            held = receipts.own(client, accepted.sid, keys.TEST_SENDS, key)
            receipts.apply_held(client, accepted.sid, keys.TEST_SENDS, key, held, provider.classify)
            return kept

        return JSONResponse(await self._in_store(keep), status_code=201)

    async def test_message(self, request: Request) -> JSONResponse:
        """A test message's state and its delivery receipts so far."""
        self.authorize(request)
        found = await self._in_store(testsend.show, request.path_params["sid"][:64])
        if found is None:
            raise NoSuchLink("no test message with that id (they are kept a week)")
        return JSONResponse(found)

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
        self._providers.close()

    async def _verified(self, request: Request, kind: str):
        provider = self._provider_or_fail(request.headers)
        url = self.settings.public_url + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        body = await request.body()
        try:
            return getattr(provider, kind)(url, request.headers, body)
        except WebhookRejected as exc:
            raise WebhookSignatureError(str(exc)) from None

    async def _in_store(self, work: Callable[..., Any], *args: Any) -> Any:
        """``work(client, *args)`` in a thread; 503 with Retry-After if the store is down."""
        try:
            return await run_in_threadpool(lambda: work(self._client(), *args))
        except redis.RedisError:
            if self._redis is not None:  # the embedded Redis may come back on another port
                self._redis.close()
                self._redis = None
            raise StoreUnavailable(STORE_DOWN) from None

    def _provider_or_fail(self, headers: Mapping[str, str] | None = None) -> Provider:
        """The provider that signed a webhook (a campaign may use another provider than the
        deployment's), or, for a test message, the deployment's."""
        try:
            if headers is None:
                return self._providers.get()
            return self._providers.for_webhook(headers)
        except RendererError as exc:
            raise CampaignsUnavailable(f"no provider is configured: {exc}") from None

    def _client(self) -> redis.Redis:
        if self._redis is None:
            try:
                self._redis = redis_store.connect(self.settings)
            except RendererError as exc:
                log.warning("campaign webhooks: %s", exc)
                raise StoreUnavailable(STORE_DOWN) from None
        return self._redis


async def _json(request: Request, limit: int = 16_384) -> Any:
    """A small JSON body (a test message's), read no further than ``limit`` bytes."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise testsend.TestSendRefused(f"the body is over {limit:,} bytes")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise testsend.TestSendRefused("the body is not valid JSON") from None
