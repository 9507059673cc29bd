"""Live values (``renderer.core.live.KINDS``): set by feeds, read by templates at render time.

``PUT /v1/live/{kind}/{key}`` with ``{"count": 47}`` sets one (``GET`` reads it back); a
render reads the values its live fields need just before it is planned into the cache key.
Backed by Redis when configured (every process sees the same values), else by this process's
memory. While Redis is unreachable, reads fall back to the last value this process saw.
"""

import dataclasses

from starlette.requests import Request
from starlette.responses import JSONResponse

from renderer.core import live
from renderer.core.errors import RendererError
from renderer.core.render import Job
from renderer.service import keys
from renderer.service.backend import RedisBackend
from renderer.service.http import BadRequest, NotFound, authorize, json_body

_UNREACHABLE = object()


class LiveStoreUnavailable(RendererError):
    code = "live_store_unavailable"
    status = 503


class LiveStore:
    def __init__(self, backend: RedisBackend | None = None):
        self.backend = backend
        self.memory: dict[tuple[str, str], int] = {}

    async def get(self, kind: str, key: str) -> int | None:
        if self.backend is not None:
            name = keys.live(kind, key)
            value = await self.backend.call(lambda r: r.get(name), fallback=_UNREACHABLE)
            if value is not _UNREACHABLE:
                if value is None:
                    self.memory.pop((kind, key), None)
                    return None
                self.memory[kind, key] = int(value)
        return self.memory.get((kind, key))

    async def set(self, kind: str, key: str, value: int) -> None:
        if self.backend is not None:
            name = keys.live(kind, key)
            done = await self.backend.call(lambda r: r.set(name, value), fallback=False)
            if not done:
                raise LiveStoreUnavailable("the live store (Redis) is unreachable; try again")
        self.memory[kind, key] = value

    async def resolve(self, job: Job) -> Job:
        """``job`` with its live fields that were not given filled in (None when the item has
        no value yet: the template shows its fallback)."""
        fields = job.template.fields
        missing = [name for name in job.template.live_fields if job.values.get(name) is None]
        if not missing:
            return job
        found = {}
        for name in missing:
            kind = live.KINDS[fields[name].live]
            found[name] = await self.get(kind.name, job.values[kind.key_field])
        return dataclasses.replace(job, values={**job.values, **found})


async def live_value(request: Request) -> JSONResponse:
    """``PUT /v1/live/{kind}/{key}`` with ``{"count": 47}``; ``GET`` returns it."""
    service = request.app.state.service
    authorize(request, service.settings.api_keys)
    kind = live.KINDS.get(request.path_params["kind"])
    if kind is None:
        raise NotFound(
            f"no live value kind {request.path_params['kind']!r}; known: {', '.join(live.KINDS)}"
        )
    try:
        key = kind.check_key(request.path_params["key"])
        if request.method == "PUT":
            value = kind.check_value(await json_body(request))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if request.method == "PUT":
        await service.live.set(kind.name, key, value)
        return JSONResponse({kind.key_type: key, "count": value})
    value = await service.live.get(kind.name, key)
    if value is None:
        raise NotFound(f"no {kind.name} count for {key!r}")
    return JSONResponse({kind.key_type: key, "count": value})
