"""The campaign commands of ``mms-renderer``: send, worker, status, report, forget, and the
sandbox provider. ``renderer/cli.py`` parses the arguments and calls these."""

import json
import os
import socket
import sys
import time
from pathlib import Path

import httpx

from renderer.catalog import Catalog
from renderer.config import Settings
from renderer.errors import RendererError
from renderer.orchestrator import campaign as campaigns
from renderer.orchestrator import keys, redis_store, report, webhooks
from renderer.orchestrator.audience import parse_phone
from renderer.orchestrator.enqueue import enqueue
from renderer.orchestrator.ledger import Ledger
from renderer.orchestrator.providers.twilio import TwilioProvider
from renderer.orchestrator.worker import Setup, Worker


def setup(settings: Settings) -> Setup:
    if not settings.twilio_account_sid or not settings.twilio_auth_token:
        raise RendererError(
            "set RENDERER_TWILIO_ACCOUNT_SID and RENDERER_TWILIO_AUTH_TOKEN (and "
            "RENDERER_TWILIO_BASE_URL for a compatible provider or the sandbox)"
        )
    client = redis_store.connect()
    return Setup(
        redis=client,
        provider=TwilioProvider(
            settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_base_url
        ),
        render_url=settings.render_url,
        api_key=settings.api_keys[0],
        public_url=settings.public_url,
        link_key=keys.link_key(client),
        claim_seconds=settings.claim_seconds,
    )


def send(path: Path, audience: Path, templates: Path, local_worker: bool, until_idle: bool) -> int:
    settings = Settings.from_env()
    campaign = campaigns.load(path, Catalog(templates))
    for warning in campaigns.preview_warnings(campaign):
        print(f"warning: {warning}", file=sys.stderr)
    if not audience.is_file():
        raise RendererError(f"no audience file {audience}")
    context = setup(settings)
    _check_render_service(settings)
    enqueued = enqueue(context.redis, campaign, audience, keys.privacy_key(context.redis))
    print(
        f"campaign {campaign.id}: {enqueued.rows:,} rows, {enqueued.queued:,} queued, "
        f"{enqueued.duplicates:,} duplicates, {enqueued.no_opt_in:,} without opt-in, "
        f"{enqueued.bad_rows:,} bad rows (see: campaign report {campaign.id})"
    )
    if not local_worker:
        return 0
    return _work_with_progress(context, campaign.id, until_idle)


def worker(only: str | None) -> int:
    context = setup(Settings.from_env())
    Worker(context, _worker_name()).run(only=only)
    return 0


def status(campaign_id: str) -> int:
    ledger = Ledger(redis_store.connect(start=False), campaign_id)
    print(report.text(report.gather(ledger)))
    return 0


def report_command(campaign_id: str, as_json: bool, html_path: Path | None) -> int:
    ledger = Ledger(redis_store.connect(start=False), campaign_id)
    if not ledger.redis.exists(ledger.definition):
        raise RendererError(f"no campaign {campaign_id!r}")
    gathered = report.gather(ledger)
    if html_path:
        html_path.write_text(report.page(gathered))
    print(json.dumps(gathered, indent=2) if as_json else report.text(gathered))
    return 0


def forget(phones: list[str]) -> int:
    client = redis_store.connect(start=False)
    settings = Settings.from_env()
    for text in phones:
        phone, problem = parse_phone(text, "US")
        if problem:
            raise RendererError(problem)
        images = webhooks.forget(client, phone)
        purged = 0
        for url in images:
            response = httpx.delete(
                f"{settings.render_url}/v1/images",
                params={"url": url},
                headers={"Authorization": f"Bearer {settings.api_keys[0]}"},
            )
            purged += response.status_code == 204
        print(
            f"{phone}: data erased in every campaign, {purged} cached images purged; "
            "the opt-out (a keyed hash) is kept"
        )
    return 0


def sandbox(host: str, port: int, failure_rate: float, storm_rate: float) -> int:
    import uvicorn

    from renderer.orchestrator.providers.sandbox import create_sandbox

    settings = Settings.from_env()
    app = create_sandbox(
        settings.twilio_account_sid or "ACsandbox",
        settings.twilio_auth_token or "sandbox-token",
        failure_rate=failure_rate,
        storm_rate=storm_rate,
    )
    print(
        f"sandbox provider on http://{host}:{port}/ (outbox at /); point "
        f"RENDERER_TWILIO_BASE_URL at it",
        file=sys.stderr,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0


def _check_render_service(settings: Settings) -> None:
    try:
        httpx.get(f"{settings.render_url}/healthz", timeout=5).raise_for_status()
    except httpx.HTTPError:
        raise RendererError(
            f"the render service is not answering at {settings.render_url}: start it "
            "(mms-renderer serve) or set RENDERER_RENDER_URL"
        ) from None


def _work_with_progress(context: Setup, campaign_id: str, until_idle: bool) -> int:
    import threading

    ledger = Ledger(context.redis, campaign_id)
    done = threading.Event()

    started, interactive = time.monotonic(), sys.stderr.isatty()

    def line() -> str:
        states = ledger.totals()
        reached = sum(states.get(f"state:{s}", 0) for s in ("accepted", "sent", "delivered"))
        return (
            f"sent {reached:,}  skipped {states.get('state:skipped', 0):,}  deferred "
            f"{states.get('state:deferred', 0):,}  failed {states.get('state:failed', 0):,}  "
            f"ambiguous {states.get('state:ambiguous', 0):,}  "
            f"{reached / max(time.monotonic() - started, 1e-9):.1f}/s"
        )

    def show() -> None:
        while not done.wait(1.0 if interactive else 5.0):
            print(
                f"\r{line()}" if interactive else line(),
                end="" if interactive else "\n",
                file=sys.stderr,
                flush=True,
            )

    reporter = threading.Thread(target=show, daemon=True)
    reporter.start()
    try:
        Worker(context, _worker_name()).run(only=campaign_id, until_idle=until_idle)
    finally:
        done.set()
        reporter.join()
    print(f"\r{line()}" if interactive else line(), file=sys.stderr)
    print(report.text(report.gather(ledger)))
    return 0


def _worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"
