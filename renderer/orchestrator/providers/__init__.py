"""Message providers, behind one ``Provider`` protocol (``base.py``): Twilio and any provider
that speaks its Messages API (``twilio.py``), and the local sandbox (``sandbox.py``) that
rehearses a campaign for real."""

from renderer.core.errors import RendererError
from renderer.orchestrator.providers.base import Provider
from renderer.settings import CampaignSettings


def create(settings: CampaignSettings) -> Provider:
    """The provider the settings name (RENDERER_PROVIDER, default twilio). Its auth token is
    enough to verify webhooks; sending needs the account too (``campaign send`` checks)."""
    from renderer.orchestrator.providers.sandbox import SandboxProvider
    from renderer.orchestrator.providers.twilio import TwilioProvider

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
