"""The template store: every version of every template in Redis, and every process following it.

One source of truth for all the service's processes and machines: Redis (RENDERER_REDIS_URL,
else the data folder's embedded one). A template version is content-addressed (its name is
the hash of its files, ``catalog.version_of``) and kept with when it was stored, by whom and
its lint report; ``current`` says which version each template serves, a deleted one is ""
there. Every change, and every image purge, is appended to one stream (``keys.events``),
which each process reads with a blocking XREAD: within milliseconds it loads the version now
current (or drops the template, or the purged image from its L1), so every worker and every
instance serves the same versions within a second of an upload, replace or delete. A process
that lost Redis for a while reads the events it missed, or, if the stream was trimmed past
them, reloads everything and empties its L1 (a purge may be among them).

The templates folder is the seed: at start each of its templates is stored, and becomes
current, when its version differs from the one the folder brought last time. An upload or a
delete then wins until the folder's copy itself changes. At most ``KEEP_VERSIONS`` versions
of a template keep their files; older ones are retired (their record stays, saying when). A
kept version can be made current again (``restore``), retired by hand (``retire``), and is
built on demand for a signed URL or a preview that names it (``template_at``).
"""

import asyncio
import contextlib
import json
import logging
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import redis.asyncio as redis
from cachetools import LRUCache
from redis.exceptions import RedisError

from renderer import redis_client
from renderer.core.catalog import Catalog, Template, build_template, read_files, version_of
from renderer.core.errors import RendererError, TemplateError
from renderer.service import keys
from renderer.service.backend import RedisBackend
from renderer.service.cache import ImageCache
from renderer.service.store_scripts import DELETE, PUBLISH, RETIRE

log = logging.getLogger(__name__)

KEEP_VERSIONS = 20
EVENTS_KEPT = 10_000  # the stream is trimmed to about this many entries
BLOCK_MS = 1000
RETRY_SECONDS = 2.0
STORE_ROOT = Path("/mms-renderer-store")  # where a stored version says it lives: never read
_FAILED = object()
VERSION = re.compile(r"[0-9a-f]{16}")  # what catalog.version_of names a version


class StoreUnavailable(RendererError):
    code = "store_unavailable"
    status = 503
    retry_after = 2


class VersionRetired(RendererError):
    """A signed URL, a preview or a roll-back names a version whose files are gone."""

    code = "version_retired"
    status = 410


class VersionIsCurrent(RendererError):
    code = "version_is_current"
    status = 409


class TemplateStore:
    def __init__(self, catalog: Catalog, cache: ImageCache, backend: RedisBackend | None):
        self.catalog = catalog
        self.cache = cache
        self.backend = backend
        # the folder's templates: (version, folder) to seed the store with, and the loaded
        # template itself while it is the version served (no need to build it again)
        self.seeds = {name: (t.version, t.folder) for name, t in catalog.templates.items()}
        self._from_folder = dict(catalog.templates)
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._lints: LRUCache = LRUCache(maxsize=256)  # (name, version) -> lint report
        self._older: LRUCache = LRUCache(maxsize=8)  # (name, version) -> Template not served
        self._last_id = "0-0"
        self._follower: asyncio.Task | None = None
        self._reader: redis.Redis | None = None

    async def start(self, url: str | None) -> None:
        """Seed, load what is current, and follow the events from now on."""
        if self.backend is None or url is None:
            log.warning("no template store: serving the templates folder only; uploads get 503")
            return
        self._reader = redis_client.connect_async(url, socket_connect_timeout=1, socket_timeout=5)
        newest = await self._call(lambda r: r.xrevrange(keys.events(), count=1), [])
        self._last_id = newest[0][0].decode() if newest else "0-0"
        if await self._call(lambda r: r.ping(), None) is not None:
            await self._seed()
            await self.resync()
        self._follower = asyncio.create_task(self._follow())

    async def close(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        if self._reader is not None:
            await self._reader.aclose()

    async def publish(self, name: str, files: dict[str, bytes], lint: dict, who: str) -> str:
        """Store a new version of ``name`` and make it current everywhere; its version."""
        version = version_of(files)
        await self._store_version(name, version, files, lint, who)
        await self._publish(name, version, seed=False)
        await self.sync(name, {version: files})
        return version

    async def delete(self, name: str) -> bool:
        """Stop serving ``name`` everywhere (its versions are kept); False if not served."""
        done = await self._script(
            DELETE, [keys.templates_current(), keys.events()], [name, str(EVENTS_KEPT)]
        )
        if done:
            await self.sync(name)
        return bool(done)

    async def restore(self, name: str, version: str) -> None:
        """Make a kept version of ``name`` current again everywhere (a roll-back)."""
        await self.kept(name, version)
        await self._publish(name, version, seed=False)
        await self.sync(name)

    async def retire(self, name: str, version: str) -> None:
        """Drop a kept version's files (its record stays); never the one served."""
        await self.kept(name, version)
        script_keys = [
            keys.templates_current(),
            keys.template_history(name),
            keys.template_version(name, version),
            keys.events(),
        ]
        arguments = [name, version, str(time.time()), str(EVENTS_KEPT)]
        done = await self._script(RETIRE, script_keys, arguments)
        if done == -1:
            raise VersionIsCurrent(
                f"{name} serves version {version}: roll back to another one first, "
                "or delete the template"
            )
        self._retired(name, version)

    async def kept(self, name: str, version: str) -> dict[str, Any]:
        """The record of a version whose files are kept; VersionRetired if they are not."""
        if not VERSION.fullmatch(version):
            raise RendererError(f"{version[:40]!r} is not a version: 16 hexadecimal digits")
        meta = await self._meta(name, version)
        if meta is None:
            raise VersionRetired(f"{name} has no version {version!r} in the template store")
        if meta["retired_at"] is not None:
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(meta["retired_at"]))
            raise VersionRetired(f"version {version} of {name} was retired on {when}")
        return meta

    async def template_at(self, name: str, version: str) -> Template:
        """A kept version of ``name``, built (and kept for a few renders more); the one
        served when it is that version. VersionRetired when its files are gone."""
        served = self.catalog.get(name)
        if served.version == version:
            return served
        template = self._older.get((name, version))
        if template is None:
            await self.kept(name, version)
            files = await self.files(name, version)
            if files is None:
                raise VersionRetired(f"version {version} of {name} was just retired")
            folder = STORE_ROOT / name / version
            template = await asyncio.to_thread(build_template, name, files, folder)
            self._older[name, version] = template
        return template

    async def announce_purge(self, key: str) -> None:
        """Tell every process to drop an image from its L1 (this one has already)."""
        event = {"kind": "purge", "key": key}
        added = await self._call(
            lambda r: r.xadd(keys.events(), event, maxlen=EVENTS_KEPT, approximate=True), None
        )
        if added is None and self.backend is not None:
            raise StoreUnavailable("could not tell the other processes to purge; retry")

    async def sync(self, name: str, known: dict[str, dict[str, bytes]] | None = None) -> None:
        """Serve the version of ``name`` that is current in the store (``known`` may hold the
        files of versions this process has at hand)."""
        async with self._locks[name]:
            current = await self._call(lambda r: r.hget(keys.templates_current(), name), _FAILED)
            if current is _FAILED or current is None:  # unknown to the store: keep as it is
                return
            await self._serve(name, current.decode(), (known or {}).get(current.decode()))

    async def resync(self) -> None:
        """Serve every current version (after start, or after events were lost)."""
        current = await self._call(lambda r: r.hgetall(keys.templates_current()), None)
        if current is None:
            return
        if not await self._call(lambda r: r.exists(keys.templates_seeded()), 1):
            await self._seed()  # the store was emptied: bring the folder's templates back
        for name in {n.decode() for n in current} | set(self.catalog.templates):
            await self.sync(name)

    async def lint_report(self, template: Template) -> dict | None:
        """The lint report of a template version, if one was made."""
        report = self._lints.get((template.name, template.version))
        if report is None:
            report = ((await self._meta(template.name, template.version)) or {}).get("lint")
        return report

    async def save_lint(self, template: Template, report: dict) -> None:
        self._lints[template.name, template.version] = report
        key = keys.template_version(template.name, template.version)
        meta = await self._meta(template.name, template.version)
        if meta is not None:
            meta["lint"] = report
            await self._call(lambda r: r.hset(key, "meta", json.dumps(meta)), None)

    async def versions(self, name: str) -> list[dict[str, Any]]:
        """The kept versions of ``name``, newest first, each with when, who and its lint."""
        found = await self._call(lambda r: r.zrevrange(keys.template_history(name), 0, -1), [])
        return [m for v in found if (m := await self._meta(name, v.decode())) is not None]

    async def files(self, name: str, version: str) -> dict[str, bytes] | None:
        """The files of a stored version; None if it was never stored or is retired."""
        stored = await self._call(lambda r: r.hgetall(keys.template_version(name, version)), {})
        files = {k[2:].decode(): v for k, v in stored.items() if k.startswith(b"f:")}
        return files or None

    async def _serve(self, name: str, version: str, files: dict[str, bytes] | None) -> None:
        served = self.catalog.templates.get(name)
        if version == "":
            if served is not None:
                log.info("template %s deleted", name)
                self._changed()
            self.catalog.drop(name)
            return
        if served is not None and served.version == version:
            return
        seed = self._from_folder.pop(name, None)  # kept only while it is the one served
        try:
            if seed is not None and seed.version == version:
                template = seed
            else:
                files = files or await self.files(name, version)
                if files is None:
                    raise TemplateError(f"version {version} has no files in the store", name)
                folder = STORE_ROOT / name / version
                template = await asyncio.to_thread(build_template, name, files, folder)
        except TemplateError as exc:
            self.catalog.broken(exc)
            return
        self.catalog.put(template)
        self._changed()
        log.info("template %s now serves version %s", name, version)

    def _changed(self) -> None:
        self.cache.forget_urls()  # a remembered URL may name another image now

    async def _follow(self) -> None:
        """Apply every event, as it is appended, for as long as the process runs."""
        lost = False
        while True:
            try:
                if lost:
                    await self._recover()
                    lost = False
                found = await self._reader.xread(
                    {keys.events(): self._last_id}, count=100, block=BLOCK_MS
                )
                for _, entries in found:
                    for entry_id, event in entries:
                        self._last_id = entry_id.decode()
                        await self._apply(event)
            except (RedisError, OSError, TimeoutError) as exc:
                if not lost:
                    log.warning("template store: lost the event stream (%s); retrying", exc)
                lost = True
                await asyncio.sleep(RETRY_SECONDS)

    async def _apply(self, event: dict[bytes, bytes]) -> None:
        kind = event.get(b"kind")
        if kind == b"template":
            await self.sync(event[b"name"].decode())
        elif kind == b"purge":
            self.cache.drop_local(event[b"key"].decode())
        elif kind == b"retired":
            self._retired(event[b"name"].decode(), event[b"version"].decode())

    def _retired(self, name: str, version: str) -> None:
        """A version's URLs answer 410 from now on, also those remembered."""
        self._older.pop((name, version), None)
        self.cache.forget_urls()

    async def _recover(self) -> None:
        """Back after an outage: the events missed are read next, unless the stream was
        trimmed past them; then which purges were missed is unknown, so L1 is emptied, and
        every template is reloaded."""
        oldest = await self._reader.xrange(keys.events(), count=1)
        if oldest and _id(oldest[0][0].decode()) > _id(self._last_id):
            log.warning("template store: events were missed; emptying L1 and reloading")
            self.cache.clear_local()
            newest = await self._reader.xrevrange(keys.events(), count=1)
            self._last_id = newest[0][0].decode()
        await self.resync()
        log.info("template store: following events again")

    async def _seed(self) -> None:
        for name, (version, folder) in self.seeds.items():
            key = keys.template_version(name, version)
            if not await self._call(lambda r, key=key: r.exists(key), 0):
                files = await asyncio.to_thread(read_files, folder)
                await self._store_version(name, version, files, None, "templates folder")
            await self._publish(name, version, seed=True)

    async def _store_version(self, name, version, files, lint, who) -> None:
        meta = {
            "name": name,
            "version": version,
            "stored_at": time.time(),
            "stored_by": who,
            "lint": lint,
            "files": {path: len(data) for path, data in sorted(files.items())},
        }
        mapping = {"meta": json.dumps(meta), **{f"f:{p}": d for p, d in files.items()}}
        key = keys.template_version(name, version)
        if await self._call(lambda r: r.hset(key, mapping=mapping), None) is None:
            raise StoreUnavailable("the template store (Redis) is unreachable; retry")

    async def _meta(self, name: str, version: str) -> dict | None:
        key = keys.template_version(name, version)
        raw = await self._call(lambda r: r.hmget(key, ["meta", "retired_at"]), [None, None])
        if raw[0] is None:
            return None
        meta = json.loads(raw[0])
        meta["retired_at"] = float(raw[1]) if raw[1] else None
        return meta

    async def _publish(self, name: str, version: str, seed: bool) -> None:
        script_keys = [
            keys.templates_current(),
            keys.template_history(name),
            keys.template_version(name, version),
            keys.events(),
            keys.templates_seeded(),
        ]
        arguments = [name, version, str(time.time()), str(KEEP_VERSIONS), str(EVENTS_KEPT)]
        await self._script(PUBLISH, script_keys, [*arguments, "1" if seed else "0"])

    async def _script(self, lua: str, script_keys: list[str], arguments: list[str]) -> Any:
        result = await self._call(
            lambda r: r.eval(lua, len(script_keys), *script_keys, *arguments), _FAILED
        )
        if result is _FAILED:
            raise StoreUnavailable("the template store (Redis) is unreachable; retry")
        return result

    async def _call(self, operation, fallback):
        if self.backend is None:
            return fallback
        return await self.backend.call(operation, fallback=fallback)


def _id(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)
