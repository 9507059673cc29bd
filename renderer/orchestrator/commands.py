"""The campaign commands of ``mms-renderer``: send, worker, status, report, forget, and the
sandbox provider. ``renderer/cli.py`` parses the arguments and calls these."""

import json
import os
import socket
import sys
import time
from pathlib import Path

import httpx

from renderer.core.errors import RendererError
from renderer.orchestrator import campaign as campaigns
from renderer.orchestrator import keyring, providers, redis_store, report, webhooks
from renderer.orchestrator.audience import parse_phone
from renderer.orchestrator.enqueue import enqueue
from renderer.orchestrator.ledger import Ledger
from renderer.orchestrator.worker import Setup, Worker
from renderer.settings import CampaignSettings


def setup(settings: CampaignSettings) -> Setup:
    if not settings.twilio_account_sid or not settings.twilio_auth_token:
        raise RendererError(
            "set RENDERER_TWILIO_ACCOUNT_SID and RENDERER_TWILIO_AUTH_TOKEN (and "
            "RENDERER_TWILIO_BASE_URL for a compatible provider), or RENDERER_PROVIDER=sandbox"
        )
    client = redis_store.connect(settings)
    return Setup(
        redis=client,
        provider=providers.create(settings),
        render_url=settings.render_url,
        api_key=settings.api_key,
        public_url=settings.public_url,
        link_key=keyring.link_key(client),
        claim_seconds=settings.claim_seconds,
    )


def send(path: Path, audience: Path, local_worker: bool, until_idle: bool) -> int:
    settings = CampaignSettings.from_env()
    _check_render_service(settings)
    campaign = campaigns.load(path, _templates_of(settings))
    for warning in campaigns.preview_warnings(campaign):
        print(f"warning: {warning}", file=sys.stderr)
    if not audience.is_file():
        raise RendererError(f"no audience file {audience}")
    context = setup(settings)
    secret = keyring.privacy_key(context.redis, settings.privacy_key)
    enqueued = enqueue(context.redis, campaign, audience, secret)
    print(
        f"campaign {campaign.id}: {enqueued.rows:,} rows, {enqueued.queued:,} queued, "
        f"{enqueued.duplicates:,} duplicates, {enqueued.no_opt_in:,} without opt-in, "
        f"{enqueued.bad_rows:,} bad rows (see: campaign report {campaign.id})"
    )
    if not local_worker:
        return 0
    return _work_with_progress(context, campaign.id, until_idle)


def worker(only: str | None) -> int:
    context = setup(CampaignSettings.from_env())
    Worker(context, _worker_name()).run(only=only)
    return 0


def status(campaign_id: str) -> int:
    ledger = Ledger(redis_store.connect(CampaignSettings.from_env(), start=False), campaign_id)
    print(report.text(report.gather(ledger)))
    return 0


def report_command(campaign_id: str, as_json: bool, html_path: Path | None) -> int:
    ledger = Ledger(redis_store.connect(CampaignSettings.from_env(), start=False), campaign_id)
    if not ledger.redis.exists(ledger.definition):
        raise RendererError(f"no campaign {campaign_id!r}")
    gathered = report.gather(ledger)
    if html_path:
        html_path.write_text(report.page(gathered))
    print(json.dumps(gathered, indent=2) if as_json else report.text(gathered))
    return 0


def forget(phones: list[str]) -> int:
    settings = CampaignSettings.from_env()
    client = redis_store.connect(settings, start=False)
    secret = keyring.privacy_key(client, settings.privacy_key)
    for text in phones:
        phone, problem = parse_phone(text, "US")
        if problem:
            raise RendererError(problem)
        images = webhooks.forget(client, secret, phone)
        purged = 0
        for url in images:
            response = httpx.delete(
                f"{settings.render_url}/v1/images",
                params={"url": url},
                headers={"Authorization": f"Bearer {settings.api_key}"},
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

    settings = CampaignSettings.from_env()
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


def _templates_of(settings: CampaignSettings) -> campaigns.TemplateLookup:
    """Templates as the render service describes them (the campaigns use it over HTTP)."""

    def lookup(name: str) -> dict:
        response = httpx.get(f"{settings.render_url}/v1/templates/{name}", timeout=10)
        if response.status_code != 200:
            raise RendererError(response.json().get("error", {}).get("message", response.text))
        return response.json()

    return lookup


def _check_render_service(settings: CampaignSettings) -> None:
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
