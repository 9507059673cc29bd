"""The campaigns' Redis: the one named by RENDERER_REDIS_URL, else the data folder's embedded
one (``renderer/embedded.py``), which the campaign commands and the service's webhooks share.
"""

import redis

from renderer import embedded
from renderer.core.errors import RendererError
from renderer.settings import CampaignSettings


def url(settings: CampaignSettings, start: bool = True) -> str | None:
    """RENDERER_REDIS_URL, else the embedded Redis (started if ``start`` and not running)."""
    if settings.redis_url:
        return settings.redis_url
    if start:
        return embedded.ensure(settings.data_dir)
    return embedded.find(settings.data_dir)


def connect(settings: CampaignSettings, start: bool = True) -> redis.Redis:
    where = url(settings, start)
    if where is None:
        raise RendererError(
            f"no campaign data: no embedded Redis runs for the data folder "
            f"{settings.data_dir.resolve()}; set RENDERER_DATA_DIR (or RENDERER_REDIS_URL) to "
            "the one the campaign was sent with"
        )
    return redis.Redis.from_url(where, decode_responses=True, socket_timeout=10)
