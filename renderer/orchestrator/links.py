"""Tracked links: every link of a body becomes ``{public URL}/c/{code}``.

A campaign link's code names the campaign, the variant and the link's index, and is signed:
it carries no personal data, cannot be forged, and counts clicks per campaign and variant.
The fallback SMS's link to a recipient's image is a random code stored in Redis for 30 days.
"""

import base64
import hashlib
import hmac
import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis

from renderer.orchestrator import keys

IMAGE_LINK_SECONDS = 30 * 24 * 3600
MAX_CODE = 256  # longer than any code we make (a campaign id is at most 64 characters)


def link_code(secret: bytes, campaign: str, variant: str, index: int) -> str:
    payload = f"{campaign}|{variant}|{index}".encode()
    body = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    return f"{body}.{_sign(secret, body)}"


def read_code(secret: bytes, code: str) -> tuple[str, str, int] | None:
    """(campaign, variant, index) of a campaign link's code; None if it is not ours (any
    text at all: codes we make are short and ASCII, and nothing is trusted before its
    signature)."""
    if not _plausible(code):
        return None
    body, _, signature = code.partition(".")
    if not signature or not hmac.compare_digest(signature, _sign(secret, body)):
        return None
    try:
        campaign, variant, index = (
            base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode().split("|")
        )
        return campaign, variant, int(index)
    except ValueError:
        return None


def with_utm(url: str, utm: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in utm]
    return urlunsplit(parts._replace(query=urlencode([*query, *utm.items()])))


def image_link(client: redis.Redis, public_url: str, image_url: str) -> str:
    code = "i" + secrets.token_urlsafe(9)
    client.set(keys.image_link(code), image_url, ex=IMAGE_LINK_SECONDS)
    return f"{public_url}/c/{code}"


def image_target(client: redis.Redis, code: str) -> str | None:
    if not code.startswith("i") or not _plausible(code):
        return None
    return client.get(keys.image_link(code))


def _plausible(code: str) -> bool:
    return len(code) <= MAX_CODE and code.isascii()


def _sign(secret: bytes, body: str) -> str:
    digest = hmac.new(secret, f"link:{body}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:12]).rstrip(b"=").decode()
