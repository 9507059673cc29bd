"""The campaigns' Redis: the one named by RENDERER_REDIS_URL, else the data folder's embedded
one (``renderer/embedded.py``), which the campaign commands and the service's webhooks share.
"""

from urllib.parse import urlsplit, urlunsplit

import redis

from renderer import embedded, redis_client
from renderer.core.errors import RendererError
from renderer.settings import CampaignSettings


def url(settings: CampaignSettings, start: bool = True) -> str | None:
    """RENDERER_REDIS_URL, else the embedded Redis. Started if ``start``; else only if the
    data folder has held one before (its data is there: after a reboot, say)."""
    if settings.redis_url:
        return settings.redis_url
    if start or (settings.data_dir / embedded.URL_FILE).exists():
        return embedded.ensure(settings.data_dir)
    return embedded.find(settings.data_dir)


def connect(settings: CampaignSettings, start: bool = True) -> redis.Redis:
    """The campaigns' Redis, answering; RendererError says which one is missing and where."""
    where = url(settings, start)
    if where is None:
        raise RendererError(
            f"no campaign data in the data folder {settings.data_dir.resolve()}: no campaign "
            "was sent with it. Set RENDERER_DATA_DIR (or RENDERER_REDIS_URL) to the one the "
            "campaign was sent with"
        )
    client = redis_client.connect(
        where, decode_responses=True, socket_timeout=10, socket_connect_timeout=5
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        named = "RENDERER_REDIS_URL" if settings.redis_url else "the embedded Redis"
        raise RendererError(f"cannot reach Redis at {_redacted(where)} ({named}): {exc}") from None
    return client


def _redacted(where: str) -> str:
    parts = urlsplit(where)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(parts.password, "***", 1))
    return urlunsplit(parts)
