"""Message providers, behind one ``Provider`` protocol (``base.py``): Twilio and any provider
that speaks its Messages API (``twilio.py``), and the local sandbox (``sandbox.py``) that
rehearses a campaign for real), and Telnyx's Messages API v2 (``telnyx.py``)."""

from collections.abc import Mapping
from dataclasses import replace

from renderer.core.errors import RendererError
from renderer.orchestrator.providers.base import Provider
from renderer.settings import CampaignSettings


class Providers:
    """Each provider the settings can make, made when first needed: a campaign names its own
    (``provider`` in campaign.toml), else the deployment's RENDERER_PROVIDER is used."""

    def __init__(self, settings: CampaignSettings):
        self.settings = settings
        self.made: dict[str, Provider] = {}

    def get(self, name: str = "") -> Provider:
        name = name or self.settings.provider
        if name not in self.made:
            self.made[name] = create(replace(self.settings, provider=name))
        return self.made[name]

    def for_webhook(self, headers: Mapping[str, str]) -> Provider:
        """The provider that signed a webhook, by its signature header."""
        if "telnyx-signature-ed25519" in headers:
            return self.get("telnyx")
        if "x-twilio-signature" in headers and self.settings.provider == "telnyx":
            return self.get("twilio")
        return self.get()

    def close(self) -> None:
        for provider in self.made.values():
            provider.close()


def create(settings: CampaignSettings) -> Provider:
    """The provider the settings name (RENDERER_PROVIDER, default twilio). Its webhook
    secret (Twilio's auth token, Telnyx's public key) is enough to verify webhooks; sending
    needs the account too (``campaign send`` checks)."""
    from renderer.orchestrator.providers.sandbox import SandboxProvider
    from renderer.orchestrator.providers.telnyx import TelnyxProvider
    from renderer.orchestrator.providers.twilio import TwilioProvider

    if settings.provider == "telnyx":
        if not settings.telnyx_public_key and not settings.telnyx_api_key:
            raise RendererError("set RENDERER_TELNYX_API_KEY and RENDERER_TELNYX_PUBLIC_KEY")
        try:
            return TelnyxProvider(
                settings.telnyx_api_key,
                settings.telnyx_public_key,
                settings.telnyx_base_url,
                settings.telnyx_messaging_profile_id,
                connections=settings.send_concurrency,
            )
        except ValueError as exc:
            raise RendererError(str(exc)) from None
    if not settings.twilio_auth_token:
        raise RendererError(
            "set RENDERER_TWILIO_ACCOUNT_SID and RENDERER_TWILIO_AUTH_TOKEN (and "
            "RENDERER_TWILIO_BASE_URL for a compatible provider or the sandbox)"
        )
    kind = SandboxProvider if settings.provider == "sandbox" else TwilioProvider
    return kind(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio_base_url,
        connections=settings.send_concurrency,
    )
