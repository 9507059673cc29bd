"""Every ``RENDERER_*`` setting, read from the environment here and nowhere else.

``ServiceSettings`` is what the HTTP service needs, ``CampaignSettings`` what the campaign
commands and the provider webhooks need. The CLI turns its flags into the same variables, so
every uvicorn worker process reads the same settings. Reading checks every value: a wrong one
is a RendererError naming the variable, before anything starts.
"""

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from renderer.core.errors import RendererError
from renderer.core.limits import parse_bytes

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_TEMPLATES = PROJECT_ROOT / "templates_svg"

DEV_SIGNING_KEYS = {"dev": b"mms-renderer-development-key-do-not-use"}
DEV_API_KEY = "dev-api-key"
TWILIO = "https://api.twilio.com"
TELNYX = "https://api.telnyx.com"
# The bundled sandbox provider's defaults (``mms-renderer sandbox-provider``)
SANDBOX = {
    "sid": "ACsandbox",
    "token": "sandbox-token",
    "url": "http://127.0.0.1:8010",
    "from": "+15005550006",  # Twilio's test sender number
}
HELP_TEXT = "Msg frequency varies. Msg & data rates may apply. Reply STOP to cancel."


class _Reader:
    """``RENDERER_NAME`` values of one mapping, checked."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env

    def text(self, name: str, default: str = "") -> str:
        return self.env.get(f"RENDERER_{name}", "").strip() or default

    def number(self, name: str, default: str, kind: type = int, low: float = 1):
        try:
            value = kind(self.text(name, default))
        except ValueError:
            raise RendererError(f"RENDERER_{name} must be a number") from None
        if value < low:
            raise RendererError(f"RENDERER_{name} must be at least {low}")
        return value

    def size(self, name: str, default: str) -> int:
        try:
            return parse_bytes(self.text(name, default))
        except ValueError as exc:
            raise RendererError(f"RENDERER_{name}: {exc}") from None

    def api_keys(self) -> tuple[str, ...]:
        keys = tuple(k.strip() for k in self.text("API_KEYS").split(",") if k.strip())
        return keys or (DEV_API_KEY,)

    def host(self) -> str:
        return self.text("HOST", "127.0.0.1")

    def public_url(self) -> str:
        return self.text("PUBLIC_URL", f"http://{self.host()}:{self.text('PORT', '8000')}").rstrip(
            "/"
        )


@dataclass(frozen=True)
class ServiceSettings:
    """The HTTP service's settings."""

    templates: Path
    signing_keys: dict[str, bytes]  # kid -> secret, in order: the first signs, all verify
    api_keys: tuple[str, ...]
    redis_url: str | None
    public_url: str
    host: str
    port: int
    workers: int
    cache_bytes: int
    cache_ttl: int  # seconds an image stays in Redis
    render_concurrency: int
    queue_limit: int  # renders that may wait for a free slot before 503
    render_timeout: float  # seconds from arrival to a finished render, else 503
    live_max_age: int  # Cache-Control max-age of images that show live values
    metrics_dir: str | None  # PROMETHEUS_MULTIPROC_DIR: several workers share their metrics
    data_dir: Path  # without redis_url: the embedded Redis that holds the template store

    @property
    def development_keys(self) -> bool:
        return self.signing_keys == DEV_SIGNING_KEYS or DEV_API_KEY in self.api_keys

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "ServiceSettings":
        """Read and check every variable; RendererError names the one that is wrong."""
        env = os.environ if env is None else env
        read = _Reader(env)
        host = read.host()
        settings = cls(
            templates=templates_dir(env=env),
            signing_keys=_signing_keys(read.text("SIGNING_KEYS")) or dict(DEV_SIGNING_KEYS),
            api_keys=read.api_keys(),
            redis_url=read.text("REDIS_URL") or None,
            public_url=read.public_url(),
            host=host,
            port=read.number("PORT", "8000", low=0),
            workers=read.number("WORKERS", "1"),
            cache_bytes=read.size("CACHE_BYTES", "256MB"),
            cache_ttl=read.number("CACHE_TTL", str(7 * 24 * 3600)),
            render_concurrency=read.number("RENDER_CONCURRENCY", str(os.cpu_count() or 2)),
            queue_limit=read.number("QUEUE_LIMIT", "64", low=0),
            render_timeout=read.number("RENDER_TIMEOUT", "15", kind=float, low=0.001),
            live_max_age=read.number("LIVE_MAX_AGE", "60", low=0),
            metrics_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
            data_dir=data_dir(env),
        )
        if settings.development_keys and not _is_loopback(host):
            raise RendererError(
                "refusing to serve on a non-loopback address with the development keys: "
                "set RENDERER_SIGNING_KEYS and RENDERER_API_KEYS"
            )
        return settings


@dataclass(frozen=True)
class CampaignSettings:
    """The campaign commands' settings, and those of the provider webhooks the service
    mounts."""

    redis_url: str | None  # None: the embedded Redis in data_dir
    data_dir: Path
    provider: str  # "twilio" (or any provider speaking its API), "telnyx" or "sandbox"
    twilio_account_sid: str
    twilio_auth_token: str  # also validates the webhooks' X-Twilio-Signature
    twilio_base_url: str
    render_url: str  # where campaign workers reach the render service
    api_key: str  # the key workers present to the render service
    public_url: str  # where tracked links and status callbacks point
    help_text: str  # the answer to HELP
    claim_seconds: float  # a worker's job untouched this long is taken over by another
    privacy_key: str  # the phone-hash key; empty: made once and kept in Redis
    send_concurrency: int  # provider calls in flight per worker
    telnyx_api_key: str
    telnyx_public_key: str  # base64 Ed25519: verifies Telnyx's webhooks
    telnyx_base_url: str
    telnyx_messaging_profile_id: str
    test_from: str = ""  # the sender of the studio's test messages (number or MG... SID)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "CampaignSettings":
        env = os.environ if env is None else env
        read = _Reader(env)
        public_url = read.public_url()
        provider = read.text("PROVIDER", "twilio").lower()
        if provider not in ("twilio", "sandbox", "telnyx"):
            raise RendererError(
                f"RENDERER_PROVIDER must be twilio, telnyx or sandbox; got {provider!r}"
            )
        sandbox = SANDBOX if provider == "sandbox" else {}
        return cls(
            redis_url=read.text("REDIS_URL") or None,
            data_dir=data_dir(env),
            provider=provider,
            twilio_account_sid=read.text("TWILIO_ACCOUNT_SID", sandbox.get("sid", "")),
            twilio_auth_token=read.text("TWILIO_AUTH_TOKEN", sandbox.get("token", "")),
            twilio_base_url=read.text("TWILIO_BASE_URL", sandbox.get("url", TWILIO)).rstrip("/"),
            render_url=read.text("RENDER_URL").rstrip("/") or public_url,
            api_key=read.api_keys()[0],
            public_url=public_url,
            help_text=read.text("HELP_TEXT", HELP_TEXT),
            claim_seconds=read.number("CLAIM_SECONDS", "30", kind=float, low=0.1),
            privacy_key=read.text("PRIVACY_KEY"),
            send_concurrency=read.number("SEND_CONCURRENCY", "32"),
            telnyx_api_key=read.text("TELNYX_API_KEY"),
            telnyx_public_key=read.text("TELNYX_PUBLIC_KEY"),
            telnyx_base_url=read.text("TELNYX_BASE_URL", TELNYX).rstrip("/"),
            telnyx_messaging_profile_id=read.text("TELNYX_MESSAGING_PROFILE_ID"),
            test_from=read.text("TEST_FROM", sandbox.get("from", "")),
        )

    def or_sandbox(self) -> "CampaignSettings":
        """These settings, or, when no provider is configured at all, the bundled sandbox
        provider at its default address (the development service's test messages)."""
        if self.twilio_auth_token or self.provider != "twilio":  # configured, or not Twilio
            return self
        return replace(
            self,
            provider="sandbox",
            twilio_account_sid=SANDBOX["sid"],
            twilio_auth_token=SANDBOX["token"],
            twilio_base_url=SANDBOX["url"],
            test_from=self.test_from or SANDBOX["from"],
        )


@dataclass(frozen=True)
class LoadtestSettings:
    """What ``mms-renderer loadtest`` borrows from the deployment's own settings: the key it
    signs image URLs with and the API key its prerender batches present."""

    signing_keys: dict[str, bytes]  # the first signs, as the service does
    api_key: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "LoadtestSettings":
        env = os.environ if env is None else env
        read = _Reader(env)
        return cls(
            signing_keys=_signing_keys(read.text("SIGNING_KEYS")) or dict(DEV_SIGNING_KEYS),
            api_key=read.api_keys()[0],
        )


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """RENDERER_DATA_DIR, else the user's data folder (``$XDG_DATA_HOME/mms-renderer``, by
    default ``~/.local/share/mms-renderer``): one per user, so every process of the machine,
    started from any folder, finds the same embedded Redis."""
    env = os.environ if env is None else env
    chosen = env.get("RENDERER_DATA_DIR", "").strip()
    if chosen:
        return Path(chosen)
    base = env.get("XDG_DATA_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".local" / "share") / "mms-renderer"


def templates_dir(override: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The templates folder: ``override`` (a flag), else RENDERER_TEMPLATES, else the bundled
    templates."""
    env = os.environ if env is None else env
    chosen = override or env.get("RENDERER_TEMPLATES", "").strip()
    return Path(chosen) if chosen else BUNDLED_TEMPLATES


def _signing_keys(text: str) -> dict[str, bytes]:
    """``kid:secret,kid:secret``; secrets of at least 16 characters."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kid, sep, secret = item.partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", kid) or len(secret) < 16:
            raise RendererError(
                "RENDERER_SIGNING_KEYS must be kid:secret pairs, comma-separated, with a kid of "
                "letters, digits, - or _ and a secret of at least 16 characters"
            )
        keys[kid] = secret.encode()
    return keys


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
