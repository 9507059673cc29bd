"""The campaigns' HTTP surface, which the render service mounts: the one seam between them.

``POST /v1/webhooks/status`` (delivery receipts), ``POST /v1/webhooks/inbound`` (replies:
STOP, START, HELP) and ``GET /c/{code}`` (tracked links). Webhooks are verified by the
provider (``providers/``) before anything is read; all three need the campaigns' Redis
(RENDERER_REDIS_URL, else the data folder's embedded one, started on first use if no campaign
command has started it yet: a STOP always has somewhere durable to go).
"""

import redis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from renderer.core.errors import RendererError
from renderer.orchestrator import keyring, providers, redis_store, webhooks
from renderer.orchestrator.providers.base import Provider, WebhookRejected
from renderer.settings import CampaignSettings

ANSWERS = {
    "stop": "You are unsubscribed and will receive no more messages. Reply START to "
    "subscribe again.",
    "start": "You are subscribed again. Reply STOP to cancel.",
}


class WebhookSignatureError(RendererError):
    code = "bad_signature"
    status = 403


class CampaignsUnavailable(RendererError):
    code = "not_configured"
    status = 503


class NoSuchLink(RendererError):
    code = "not_found"
    status = 404


class CampaignRoutes:
    """The routes, and what they share: settings, the provider, the campaigns' Redis."""

    def __init__(self, settings: CampaignSettings):
        self.settings = settings
        self._redis: redis.Redis | None = None
        self._provider: Provider | None = None
        self.routes: list[BaseRoute] = [
            Route("/v1/webhooks/status", self.status, methods=["POST"]),
            Route("/v1/webhooks/inbound", self.inbound, methods=["POST"]),
            Route("/c/{code}", self.tracked_link),
        ]

    async def status(self, request: Request) -> Response:
        """A delivery receipt: moves the recipient's record forward."""
        update = await self._verified(request, "status_update")
        await run_in_threadpool(webhooks.record_status, self._client(), update)
        return Response(status_code=204)

    async def inbound(self, request: Request) -> Response:
        """A reply. STOP, START and HELP keywords, answered in the provider's format."""
        message = await self._verified(request, "inbound")
        client = self._client()

        def handle() -> str | None:
            secret = keyring.privacy_key(client, self.settings.privacy_key)
            return webhooks.inbound(client, secret, message.phone, message.body)

        word = await run_in_threadpool(handle)
        answer = self.settings.help_text if word == "help" else ANSWERS.get(word or "")
        body, media_type = self._provider_or_fail().reply(answer)
        return Response(body, media_type=media_type)

    async def tracked_link(self, request: Request) -> Response:
        """Count the click and redirect to the link with its UTM parameters."""
        target = await run_in_threadpool(
            webhooks.click, self._client(), request.path_params["code"]
        )
        if target is None:
            raise NoSuchLink("no such link")
        return RedirectResponse(target, status_code=302)

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
        if self._provider is not None:
            self._provider.close()

    async def _verified(self, request: Request, kind: str):
        provider = self._provider_or_fail()
        url = self.settings.public_url + request.url.path
        body = await request.body()
        try:
            return getattr(provider, kind)(url, request.headers, body)
        except WebhookRejected as exc:
            raise WebhookSignatureError(str(exc)) from None

    def _provider_or_fail(self) -> Provider:
        if self._provider is None:
            try:
                self._provider = providers.create(self.settings)
            except RendererError:
                raise CampaignsUnavailable(
                    "set RENDERER_TWILIO_AUTH_TOKEN to receive provider webhooks"
                ) from None
        return self._provider

    def _client(self) -> redis.Redis:
        if self._redis is None:
            try:
                self._redis = redis_store.connect(self.settings)
            except RendererError as exc:
                raise CampaignsUnavailable(str(exc)) from None
        return self._redis
