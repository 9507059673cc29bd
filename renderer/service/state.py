"""``Service``: everything a request needs, made once per process, and how an image is got.

The routes reach it as ``request.app.state.service``. ``image`` is the one way a route gets an
image: live values read, the cache asked, and on a miss the render run in the pool.
"""

import asyncio
import json
import logging
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from starlette.applications import Starlette

from renderer import embedded
from renderer.core.catalog import Catalog
from renderer.core.errors import RendererError
from renderer.core.render import Job, render
from renderer.service import metrics
from renderer.service.backend import RedisBackend
from renderer.service.cache import Entry, Flights, ImageCache
from renderer.service.live import LiveStore
from renderer.service.pool import RenderPool
from renderer.service.signing import Signer
from renderer.service.store import TemplateStore
from renderer.settings import ServiceSettings

log = logging.getLogger(__name__)

IMMUTABLE = "public, max-age=31536000, immutable"
FOLLOWS_TEMPLATE = "public, max-age=3600"  # a URL without v: its template may be replaced
MAX_BOXES = 100  # text elements whose place a preview reports (X-Render-Boxes): a bounded header


class Service:
    def __init__(self, settings: ServiceSettings):
        self.settings = settings
        self.catalog = Catalog(settings.templates)
        self.signer = Signer(settings.signing_keys)
        self.backend = RedisBackend(settings.redis_url) if settings.redis_url else None
        self.cache = ImageCache(
            settings.cache_bytes, self.backend, settings.cache_ttl, settings.render_timeout
        )
        self.live = LiveStore(self.backend)
        self.pool = RenderPool(
            settings.render_concurrency, settings.queue_limit, settings.render_timeout
        )
        self.lints = Flights()  # one lint per template version at a time
        self.store = TemplateStore(self.catalog, self.cache, None)  # connected at start
        if settings.development_keys:
            log.warning(
                "RENDERER_SIGNING_KEYS or RENDERER_API_KEYS is not set: using the DEVELOPMENT "
                "keys (signing kid 'dev', API key 'dev-api-key'); anyone can forge URLs. "
                "Set both before going live."
            )
        log.info(
            "serving %d templates from %s; cache: %s",
            len(self.catalog.templates),
            settings.templates,
            f"memory + Redis at {self.backend.where}"
            if self.backend
            else "memory only (set RENDERER_REDIS_URL to share it)",
        )

    @asynccontextmanager
    async def lifespan(self, app: Starlette):
        app.state.service = self
        url = await self._store_url()
        store_backend = None
        if url is not None:
            store_backend = self.backend if url == self.settings.redis_url else RedisBackend(url)
        self.store = TemplateStore(self.catalog, self.cache, store_backend)
        await self.store.start(url)
        yield
        await self.store.close()
        self.pool.close()
        for backend in {self.backend, store_backend} - {None}:
            await backend.close()

    async def _store_url(self) -> str | None:
        """The Redis of the template store: RENDERER_REDIS_URL, else the data folder's
        embedded one (started if none runs)."""
        if self.settings.redis_url:
            return self.settings.redis_url
        try:
            return await asyncio.to_thread(embedded.ensure, self.settings.data_dir)
        except (RendererError, OSError) as exc:
            log.error("no embedded Redis for the template store: %s", exc)
            return None

    async def image(self, job: Job) -> tuple[Job, str, Entry, str]:
        """(job with live values, key, entry, where it came from), rendering if needed."""
        job = await self.live.resolve(job)
        key = job.key()
        entry, source = await self.cache.fetch(key, lambda: self.pool.run(lambda: draw(job)))
        return job, key, entry, source

    def cache_control(self, job: Job, versioned: bool) -> str:
        """Immutable only when nothing can change the image: no live value, no moving clock,
        and a URL signed for one template version (``v``); a URL without one follows the
        template's current version, so caches keep it an hour."""
        if not job.live:
            return IMMUTABLE if versioned else FOLLOWS_TEMPLATE
        max_age = self.settings.live_max_age
        if job.template.uses_clock and not job.pinned:  # the rounded "now" moves each minute
            max_age = min(max_age, 60 - datetime.now(UTC).second)
        return f"public, max-age={max_age}"


def draw(job: Job) -> Entry:
    """Render in a pool thread, and count it."""
    result = render(job)
    for stage, seconds in result.timings.items():
        metrics.STAGE.labels(stage).observe(seconds)
    encoded = result.encoded
    metrics.RENDERS.labels(job.template.name).inc()
    metrics.ENCODES.observe(encoded.encodes)
    metrics.IMAGE_BYTES.observe(len(encoded.data))
    for name, characters in result.missing.items():
        metrics.MISSING_GLYPHS.labels(job.template.name, name).inc(len(characters))
    left_out = [
        f"{name}: no bundled font has {' '.join(f'U+{ord(c):04X}' for c in characters)}"
        for name, characters in result.missing.items()
    ]
    return Entry(
        data=encoded.data,
        media_type=encoded.media_type,
        quality=encoded.quality,
        colors=encoded.colors,
        encodes=encoded.encodes,
        width=encoded.width,
        height=encoded.height,
        render_ms=round(result.seconds * 1000, 1),
        frames=encoded.frames,
        notes="; ".join([*encoded.notes, *left_out]),
        fit=", ".join(
            f"{f.id}={'cut' if f.ellipsized else 'fitted'} {f.size:g}px"
            for f in result.fitted
            if f.shrunk
        ),
        boxes=json.dumps(
            [[f.id, *(round(n) for n in f.box)] for f in result.fitted if f.box][:MAX_BOXES]
        ),
    )
