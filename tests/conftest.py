import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from renderer import config
from renderer.catalog import Catalog

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
    return Catalog(config.BUNDLED_TEMPLATES)


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


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """The real service under uvicorn on a free port, started as a user would start it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "renderer", "serve", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"server did not start:\n{process.stdout.read()}")
        time.sleep(0.1)
    yield base
    process.terminate()
    process.wait(timeout=10)
