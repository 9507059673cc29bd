import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from renderer import embedded, settings
from renderer.core.catalog import Catalog

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-11-27T10:00:00+00:00"

MANIFEST = """\
name = "{name}"
description = "test template"
width = {width}
height = {height}
format = "jpg"
budget = "500KB"

[fields.first_name]
type = "text"
max_length = 40
sample = "Ana"
extreme = "Bartholomew-Fitzgerald Featherstonehaugh"
"""


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog(settings.BUNDLED_TEMPLATES)


@pytest.fixture
def make_template(tmp_path: Path) -> Callable[..., Path]:
    """Write a template folder under a fresh templates folder; returns the template folder."""

    def make(
        svg: str,
        name: str = "probe",
        manifest: str | None = None,
        files: dict[str, bytes] | None = None,
        width: int = 400,
        height: int = 400,
    ) -> Path:
        folder = tmp_path / "templates" / name
        folder.mkdir(parents=True)
        (folder / "template.svg").write_text(svg)
        text = manifest if manifest is not None else MANIFEST
        (folder / "manifest.toml").write_text(text.format(name=name, width=width, height=height))
        for path, data in (files or {}).items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(data)
        return folder

    return make


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "renderer", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


SIGNING_KEYS = "k2:second-secret-0123456789,k1:first-secret-0123456789"
API_KEY = "test-api-key-0123456789"
TEST_ENV = {
    "RENDERER_SIGNING_KEYS": SIGNING_KEYS,
    "RENDERER_API_KEYS": API_KEY,
    "RENDERER_PUBLIC_URL": "",
}
AUTH = {"Authorization": f"Bearer {API_KEY}"}


class Server:
    """``mms-renderer serve`` in its own process on a free port, as an operator starts it."""

    def __init__(self, log_path: Path, env: dict[str, str] | None = None, args: tuple = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        environment = {k: v for k, v in os.environ.items() if not k.startswith("RENDERER_")}
        environment.update(TEST_ENV, RENDERER_PUBLIC_URL=self.url)
        environment["RENDERER_DATA_DIR"] = str(log_path.parent / f"data-{self.port}")
        environment.update(env or {})
        self.data_dir = Path(environment["RENDERER_DATA_DIR"])  # its embedded Redis, if any
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "renderer", "serve", "--port", str(self.port), *args],
                cwd=ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not start:\n{self.log()}")
            time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples of ``name`` whose labels include ``labels``."""
        from prometheus_client.parser import text_string_to_metric_families

        text = httpx.get(f"{self.url}/metrics").text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        embedded.stop(self.data_dir)


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    """One service for the tests that only read; tests that count renders start their own."""
    running = Server(tmp_path_factory.mktemp("server") / "server.log")
    yield running
    running.stop()


@pytest.fixture
def start_server(tmp_path) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(env: dict[str, str] | None = None, args: tuple = ()) -> Server:
        running = Server(tmp_path / f"server{len(started)}.log", env, args)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


class RedisServer:
    """A private redis-server on a free port, with nothing persisted."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.process, self.url = embedded.launch(directory, persistent=False)
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])

    def start(self) -> None:
        """Start it again on the same port (after ``stop``): a Redis that came back."""
        self.process, _ = embedded.launch(self.directory, persistent=False, port=self.port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    running = RedisServer(tmp_path)
    yield running
    running.stop()


class RedisCluster:
    """Three masters in cluster mode, each a redis-server on a free loopback port, the 16,384
    slots split between them; ``url`` names one node, as a deployment's would."""

    def __init__(self, directory: Path, masters: int = 3):
        self.nodes = [
            embedded.launch(directory / f"node{i}", persistent=False, cluster=True)
            for i in range(masters)
        ]
        clients = [redis.Redis.from_url(url) for _, url in self.nodes]
        share = 16384 // masters
        for i, client in enumerate(clients):
            last = 16383 if i == masters - 1 else (i + 1) * share - 1
            client.execute_command("CLUSTER ADDSLOTS", *range(i * share, last + 1))
        port = clients[0].connection_pool.connection_kwargs["port"]
        for client in clients[1:]:
            client.execute_command("CLUSTER MEET", "127.0.0.1", port)
        deadline = time.monotonic() + 30
        while any(c.cluster("info")["cluster_state"] != "ok" for c in clients):
            assert time.monotonic() < deadline, "the cluster did not form"
            time.sleep(0.1)
        self.url = "redis+cluster://" + self.nodes[0][1].split("://", 1)[1].split("/")[0]

    def stop(self) -> None:
        for process, _ in self.nodes:
            process.kill()
            process.wait()


@pytest.fixture
def redis_cluster(tmp_path) -> Iterator[RedisCluster]:
    running = RedisCluster(tmp_path / "cluster")
    yield running
    running.stop()


@pytest.fixture
def campaign_env(tmp_path, redis_server):
    """Redis, the render service and the sandbox provider, each a real process."""
    from .campaign_env import ACCOUNT, TOKEN, Env, Sandbox

    sandbox = Sandbox(tmp_path / "sandbox.log")
    service = Server(
        tmp_path / "service.log",
        {"RENDERER_REDIS_URL": redis_server.url, "RENDERER_TWILIO_AUTH_TOKEN": TOKEN,
         "RENDERER_TWILIO_ACCOUNT_SID": ACCOUNT},
    )  # fmt: skip
    yield Env(redis_server.url, service, sandbox, tmp_path)
    service.stop()
    sandbox.stop()
