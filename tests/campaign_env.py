"""A whole campaign environment for the orchestrator tests: a private Redis, the render
service and the sandbox provider as real processes, and helpers to build campaigns."""

import csv
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis
from twilio.request_validator import RequestValidator

from renderer import redis_client
from renderer.core.catalog import Catalog
from renderer.orchestrator import campaign as campaigns
from renderer.orchestrator import keyring
from renderer.orchestrator.enqueue import enqueue
from renderer.orchestrator.providers.twilio import TwilioProvider
from renderer.orchestrator.worker import Setup, Worker
from renderer.settings import BUNDLED_TEMPLATES, CampaignSettings

from .conftest import ROOT, TEST_ENV, Server, free_port

CATALOG = Catalog(BUNDLED_TEMPLATES)

ACCOUNT, TOKEN = "ACtest", "test-auth-token-0123"
# area code -> (state, time zone): numbers of several zones and of the stricter states
AREAS = {"212": "NY", "305": "FL", "405": "OK", "312": "IL", "303": "CO", "415": "CA"}


class Sandbox:
    def __init__(
        self, log_path: Path, failure_rate=0.0, storm_rate=0.0, chaos=False, port=None, latency=0.0
    ):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "RENDERER_TWILIO_ACCOUNT_SID": ACCOUNT,
            "RENDERER_TWILIO_AUTH_TOKEN": TOKEN,
        }
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "renderer",
                    "sandbox-provider",
                    "--port",
                    str(self.port),
                    "--failure-rate",
                    str(failure_rate),
                    "--storm-rate",
                    str(storm_rate),
                    *(["--chaos"] if chaos else []),
                    "--latency",
                    str(latency),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        for _ in range(300):
            try:
                httpx.get(f"{self.url}/outbox.json", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("sandbox did not start")

    def outbox(self) -> list[dict]:
        return httpx.get(f"{self.url}/outbox.json").json()["messages"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@dataclass
class Env:
    redis_url: str
    service: Server
    sandbox: Sandbox
    tmp: Path

    @property
    def client(self) -> redis.Redis:
        return redis_client.connect(self.redis_url, decode_responses=True)

    def environ(self, **extra: str) -> dict[str, str]:
        return {
            **TEST_ENV,
            "RENDERER_REDIS_URL": self.redis_url,
            "RENDERER_TWILIO_ACCOUNT_SID": ACCOUNT,
            "RENDERER_TWILIO_AUTH_TOKEN": TOKEN,
            "RENDERER_TWILIO_BASE_URL": self.sandbox.url,
            "RENDERER_PUBLIC_URL": self.service.url,
            **extra,
        }

    def worker(
        self, clock=None, claim_seconds: float = 30, concurrency: int = 32, provider=None
    ) -> Worker:
        client = self.client
        settings = CampaignSettings.from_env(self.environ())
        setup = Setup(
            redis=client,
            provider=provider or TwilioProvider(ACCOUNT, TOKEN, self.sandbox.url),
            render_url=self.service.url,
            api_key=settings.api_key,
            public_url=self.service.url,
            link_key=keyring.link_key(client),
            claim_seconds=claim_seconds,
            concurrency=concurrency,
        )
        if clock:
            setup.clock = clock
        return Worker(setup, f"test-{time.monotonic_ns()}")

    def start(self, campaign_toml: str, rows: list[dict]) -> tuple[campaigns.Campaign, object]:
        path = self.tmp / f"audience-{time.monotonic_ns()}.csv"
        write_audience(path, rows)
        campaign = campaigns.parse(_toml(campaign_toml), lambda name: CATALOG.get(name).summary())
        client = self.client
        return campaign, enqueue(client, campaign, path, keyring.privacy_key(client))

    def post_signed(self, path: str, form: dict[str, str], token: str = TOKEN) -> httpx.Response:
        url = self.service.url + path
        signature = RequestValidator(token).compute_signature(url, form)
        return httpx.post(url, data=form, headers={"X-Twilio-Signature": signature})


def _toml(text: str) -> dict:
    import tomllib

    return tomllib.loads(text)


def phone(area: str, index: int) -> str:
    return f"+1{area}{201 + index // 10000:03d}{index % 10000:04d}"


def person(index: int, area: str, **extra) -> dict:
    return {
        "phone": phone(area, index),
        "opt_in_at": "2026-10-01T12:00:00Z",
        "opt_in_source": "checkout",
        "opt_in_wording": "w-7",
        "first_name": f"Person{index}",
        **extra,
    }


def write_audience(path: Path, rows: list[dict]) -> None:
    columns = [
        "phone",
        "opt_in_at",
        "opt_in_source",
        "opt_in_wording",
        "timezone",
        "mms_capable",
        "first_name",
        "code",
    ]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)


class Clock:
    """An injectable clock the test moves by hand."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def wait_for(condition, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
