"""Where things are, how big they may get, and how a byte size is written.

Every limit lives here so that the catalog, the rasterizer, the encoder and the CLI agree.
"""

import dataclasses
import ipaddress
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from renderer.errors import RendererError

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_TEMPLATES = PROJECT_ROOT / "templates_svg"
FONTS_DIR = PROJECT_ROOT / "fonts"

# Carriers reject MMS media over about 600 KB. Nothing may produce more, whatever is set.
HARD_CAP_BYTES = 600_000
DEFAULT_BUDGET_BYTES = 500_000

MAX_SIDE_PX = 2048  # output; T-Mobile caps at 3000 px, we stay well under
MAX_SVG_SIDE = 4096  # the SVG's own width/height attributes
MAX_SVG_BYTES = 2_000_000  # template.svg source
MAX_ELEMENTS = 10_000  # after filling, and after <use> expansion
MAX_NESTING = 64  # element depth; CairoSVG draws recursively
MAX_USE_DEPTH = 8  # <use> referring to something that holds a <use> ...
MAX_ASSET_BYTES = 10_000_000
MAX_ASSET_SIDE_PX = 8192  # decompression bombs among the assets
MAX_TEMPLATE_FILES = 200
MAX_FRAMES = 120  # an animated GIF's frames
MAX_ANIMATION_PIXELS = 24_000_000  # frames x width x height

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "b": 1, "k": 1000, "kb": 1000, "m": 1_000_000, "mb": 1_000_000}


def parse_bytes(text: str | int) -> int:
    """Read a byte size such as ``450KB``, ``0.5MB`` or ``500000``.

    KB means 1000 bytes: the carriers' "600 KB" is then a safe reading whichever unit they mean.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"not a byte size: {text!r} (write it like 450KB, 0.5MB or 500000)")
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.lower() if unit else None])


DEV_SIGNING_KEYS = {"dev": b"mms-renderer-development-key-do-not-use"}
DEV_API_KEY = "dev-api-key"
HELP_TEXT = "Msg frequency varies. Msg & data rates may apply. Reply STOP to cancel."


@dataclass(frozen=True)
class Settings:
    """The service's settings, all from ``RENDERER_*`` variables (the CLI sets them from flags,
    so that every uvicorn worker process reads the same ones)."""

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
    twilio_account_sid: str
    twilio_auth_token: str  # also validates the webhooks' X-Twilio-Signature
    twilio_base_url: str
    help_text: str  # the answer to HELP
    claim_seconds: float  # a worker's job untouched this long is taken over by another
    render_url: str  # where campaign workers reach the render service (default: public_url)

    @property
    def development_keys(self) -> bool:
        return self.signing_keys == DEV_SIGNING_KEYS or DEV_API_KEY in self.api_keys

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        """Read and check every variable; RendererError names the one that is wrong."""

        def get(name: str, default: str = "") -> str:
            return env.get(f"RENDERER_{name}", "").strip() or default

        def number(name: str, default: str, kind=int, low: float = 1):
            try:
                value = kind(get(name, default))
            except ValueError:
                raise RendererError(f"RENDERER_{name} must be a number") from None
            if value < low:
                raise RendererError(f"RENDERER_{name} must be at least {low}")
            return value

        host = get("HOST", "127.0.0.1")
        settings = cls(
            templates=templates_dir(env.get("RENDERER_TEMPLATES")),
            signing_keys=_signing_keys(get("SIGNING_KEYS")) or dict(DEV_SIGNING_KEYS),
            api_keys=tuple(k.strip() for k in get("API_KEYS").split(",") if k.strip())
            or (DEV_API_KEY,),
            redis_url=get("REDIS_URL") or None,
            public_url=get("PUBLIC_URL", f"http://{host}:{get('PORT', '8000')}").rstrip("/"),
            host=host,
            port=number("PORT", "8000", low=0),
            workers=number("WORKERS", "1"),
            cache_bytes=_bytes("CACHE_BYTES", get("CACHE_BYTES", "256MB")),
            cache_ttl=number("CACHE_TTL", str(7 * 24 * 3600)),
            render_concurrency=number("RENDER_CONCURRENCY", str(os.cpu_count() or 2)),
            queue_limit=number("QUEUE_LIMIT", "64", low=0),
            render_timeout=number("RENDER_TIMEOUT", "15", kind=float, low=0.001),
            live_max_age=number("LIVE_MAX_AGE", "60", low=0),
            twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=get("TWILIO_AUTH_TOKEN"),
            twilio_base_url=get("TWILIO_BASE_URL", "https://api.twilio.com").rstrip("/"),
            help_text=get("HELP_TEXT", HELP_TEXT),
            claim_seconds=number("CLAIM_SECONDS", "30", kind=float, low=0.1),
            render_url=get("RENDER_URL").rstrip("/"),
        )
        if not settings.render_url:
            settings = dataclasses.replace(settings, render_url=settings.public_url)
        if settings.development_keys and not _is_loopback(host):
            raise RendererError(
                "refusing to serve on a non-loopback address with the development keys: "
                "set RENDERER_SIGNING_KEYS and RENDERER_API_KEYS"
            )
        return settings


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


def _bytes(name: str, text: str) -> int:
    try:
        return parse_bytes(text)
    except ValueError as exc:
        raise RendererError(f"RENDERER_{name}: {exc}") from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def templates_dir(override: str | Path | None = None) -> Path:
    """The templates folder: the argument, else ``RENDERER_TEMPLATES``, else the bundled one."""
    chosen = override or os.environ.get("RENDERER_TEMPLATES")
    return Path(chosen) if chosen else BUNDLED_TEMPLATES
