"""The campaign commands of ``mms-renderer``: send, worker, status, report, resume, retry,
pause, cancel, forget, and the sandbox provider. ``renderer/cli.py`` parses the arguments and
calls these."""

import json
import os
import socket
import sys
from pathlib import Path

import httpx
import redis

from renderer.core.errors import RendererError
from renderer.orchestrator import campaign as campaigns
from renderer.orchestrator import keyring, keys, progress, providers, redis_store, report, webhooks
from renderer.orchestrator.audience import parse_phone
from renderer.orchestrator.enqueue import enqueue
from renderer.orchestrator.ledger import Ledger
from renderer.orchestrator.worker import Setup, Worker
from renderer.settings import CampaignSettings


def setup(settings: CampaignSettings) -> Setup:
    if settings.provider == "telnyx" and not settings.telnyx_api_key:
        raise RendererError("set RENDERER_TELNYX_API_KEY (and RENDERER_TELNYX_PUBLIC_KEY)")
    if settings.provider != "telnyx" and not (
        settings.twilio_account_sid and settings.twilio_auth_token
    ):
        raise RendererError(
            "set RENDERER_TWILIO_ACCOUNT_SID and RENDERER_TWILIO_AUTH_TOKEN (and "
            "RENDERER_TWILIO_BASE_URL for a compatible provider), or RENDERER_PROVIDER=sandbox"
        )
    client = redis_store.connect(settings)
    made = providers.Providers(settings)
    return Setup(
        redis=client,
        provider=made.get(),
        providers=made.get,
        render_url=settings.render_url,
        api_key=settings.api_key,
        public_url=settings.public_url,
        link_key=keyring.link_key(client),
        claim_seconds=settings.claim_seconds,
        concurrency=settings.send_concurrency,
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
    state = Ledger(context.redis, campaign.id).control().get("state")
    if state == "paused":
        raise RendererError(
            f"campaign {campaign.id} is paused; see `mms-renderer campaign status "
            f"{campaign.id}`, then `mms-renderer campaign resume {campaign.id}`"
        )
    if state == "cancelled":
        raise RendererError(f"campaign {campaign.id} was cancelled; give the new one another id")
    secret = keyring.privacy_key(context.redis, settings.privacy_key)
    enqueued = enqueue(context.redis, campaign, audience, secret)
    print(
        f"campaign {campaign.id}: {enqueued.rows:,} rows, {enqueued.queued:,} queued, "
        f"{enqueued.duplicates:,} duplicates, {enqueued.no_opt_in:,} without opt-in, "
        f"{enqueued.bad_rows:,} bad rows (see: campaign report {campaign.id})"
    )
    if not local_worker:
        return 0
    return _work(context, campaign.id, until_idle)


def worker(only: str | None) -> int:
    """Work every active campaign (or one), printing progress lines, until stopped."""
    context = setup(CampaignSettings.from_env())
    if only:
        _existing(context.redis, only)

    seen: set[str] = set()  # a campaign that finishes gets its last line too

    def ledgers() -> list[Ledger]:
        seen.update([only] if only else context.redis.smembers(keys.ACTIVE_CAMPAIGNS))
        return [Ledger(context.redis, cid) for cid in sorted(seen)]

    print(f"worker {_worker_name()}: working {only or 'every active campaign'}", file=sys.stderr)
    with progress.Reporter(ledgers, sys.stderr):
        Worker(context, _worker_name()).run(only=only)
    return 0


def status(campaign_id: str) -> int:
    ledger = _existing(_store(), campaign_id)
    print(report.text(report.gather(ledger)))
    return 0


def report_command(campaign_id: str, as_json: bool, html_path: Path | None) -> int:
    ledger = _existing(_store(), campaign_id)
    gathered = report.gather(ledger)
    if html_path:
        html_path.write_text(report.page(gathered))
    print(json.dumps(gathered, indent=2) if as_json else report.text(gathered))
    return 0


def resume(campaign_id: str, local_worker: bool, until_idle: bool) -> int:
    """Resume a paused campaign (after fixing what paused it), and work it here unless
    told not to."""
    settings = CampaignSettings.from_env()
    context = setup(settings)
    ledger = _existing(context.redis, campaign_id)
    if ledger.control().get("state") == "cancelled":
        raise RendererError(f"campaign {campaign_id} was cancelled; it cannot be resumed")
    ledger.set_state("running")
    ledger.note_success()
    print(f"campaign {campaign_id}: running", file=sys.stderr)
    if not local_worker:
        return 0
    _check_render_service(settings)
    return _work(context, campaign_id, until_idle)


def retry(campaign_id: str, code: str | None, local_worker: bool, until_idle: bool) -> int:
    """Queue the failed recipients (with ``code``, or all) again, and work them here unless
    told not to."""
    settings = CampaignSettings.from_env()
    context = setup(settings)
    ledger = _existing(context.redis, campaign_id)
    state = ledger.control().get("state")
    if state == "cancelled":
        raise RendererError(f"campaign {campaign_id} was cancelled; it cannot be retried")
    retried = ledger.retry_failed(code)
    which = f"failed with {code}" if code else "failed"
    print(f"campaign {campaign_id}: {retried:,} recipients that {which} queued again")
    if state == "paused":
        print(f"it is paused: run `mms-renderer campaign resume {campaign_id}`", file=sys.stderr)
        return 1
    if not local_worker or not retried:
        return 0
    _check_render_service(settings)
    return _work(context, campaign_id, until_idle)


def pause(campaign_id: str) -> int:
    ledger = _existing(_store(), campaign_id)
    ledger.set_state("paused", f"paused by hand; `mms-renderer campaign resume {campaign_id}`")
    print(f"campaign {campaign_id}: paused (no new provider call starts, on any worker)")
    return 0


def cancel(campaign_id: str) -> int:
    ledger = _existing(_store(), campaign_id)
    ledger.set_state("cancelled", "cancelled by hand")
    skipped = ledger.skip_the_rest("cancelled")
    print(f"campaign {campaign_id}: cancelled; {skipped:,} recipients will not be sent")
    return 0


def forget(phones: list[str]) -> int:
    settings = CampaignSettings.from_env()
    client = _store()
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


def sandbox(
    host: str,
    port: int,
    failure_rate: float,
    storm_rate: float,
    chaos: bool,
    latency: float = 0.0,
    deliver: bool = True,
) -> int:
    import uvicorn

    from renderer.orchestrator.providers.sandbox import create_sandbox

    settings = CampaignSettings.from_env()
    app = create_sandbox(
        settings.twilio_account_sid or "ACsandbox",
        settings.twilio_auth_token or "sandbox-token",
        failure_rate=failure_rate,
        storm_rate=storm_rate,
        chaos=chaos,
        latency=latency,
        deliver=deliver,
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


def _work(context: Setup, campaign_id: str, until_idle: bool) -> int:
    """Work one campaign in this process, with progress lines; exit 1 if it gets paused."""
    ledger = Ledger(context.redis, campaign_id)
    with progress.Reporter(lambda: [ledger], sys.stderr):
        outcome = Worker(context, _worker_name()).run(
            only=campaign_id, until_idle=until_idle, stop_on_pause=True
        )
    note = progress.left_over(ledger, context.clock())
    if note:
        print(note, file=sys.stderr)
    print(report.text(report.gather(ledger)))
    return 1 if outcome == "paused" else 0


def _store() -> redis.Redis:
    """The campaigns' Redis for commands that only read or flip a state: an error naming the
    data folder (or the URL) when there is none."""
    return redis_store.connect(CampaignSettings.from_env(), start=False)


def _existing(client: redis.Redis, campaign_id: str) -> Ledger:
    ledger = Ledger(client, campaign_id)
    if not ledger.exists():
        known = sorted(client.smembers(keys.ALL_CAMPAIGNS))[:10]
        raise RendererError(
            f"no campaign {campaign_id!r}"
            + (f"; known: {', '.join(known)}" if known else "; none has been sent here yet")
        )
    return ledger


def _worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"
