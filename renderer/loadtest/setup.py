"""From flags to a run: check every flag, read the deployment's templates, make the traffic
and the schedule; then check the deployment accepts our signature (and API key), render the
pool of images hits fetch, and run (one plan, or the find-max ladders)."""

import argparse
import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import yarl

from renderer.core.errors import RendererError
from renderer.loadtest import engine, findmax, results, schedule, target
from renderer.loadtest.schedule import Arrival, Plan, Step
from renderer.loadtest.traffic import Request, Traffic
from renderer.loadtest.values import Values, read_audience
from renderer.service.signing import Signer
from renderer.settings import LoadtestSettings


@dataclass
class Config:
    base_url: str
    templates: list[dict[str, Any]]
    traffic: Traffic
    plan: Plan
    options: engine.Options
    options_report: dict[str, Any]
    hit_pool: int
    metrics: bool  # read the deployment's /metrics before and after
    find_max: dict[str, Any] | None = None
    steps_run: list[Step] = field(default_factory=list)  # find-max's, as they ran
    step_starts: list[float] = field(default_factory=list)
    metrics_before: target.Samples | None = None


def configure(args: argparse.Namespace) -> Config:
    """Every flag checked (RendererError says which is wrong), then the deployment's
    templates read."""
    base_url = target.check_target(args.url, args.i_own_this_host)
    seconds = _check_flags(args)
    mix = schedule.parse_mix(args.mix)
    rates = schedule.parse_rates(args.rate)
    templates = target.templates(base_url, args.template)
    if args.campaign is not None and len(templates) != 1:
        raise RendererError("a campaign sends one template: give exactly one --template")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    traffic = _traffic(args, base_url, templates, random.Random(seed))
    if args.campaign is not None:
        plan = schedule.campaign(
            args.campaign, args.batch_size, seconds["--burst"], seconds["--window"]
        )
        traffic.plan_campaign(args.campaign)
    else:
        plan = schedule.constant(rates, seconds["--step"], mix)
    plan.poisson, plan.seed = args.poisson, seed
    duration = seconds.get("--duration") or (600.0 if args.find_max else max(60.0, plan.seconds))
    options = engine.Options(
        timeout=seconds["--timeout"],
        connections=args.connections,
        honour_retry_after=args.retry_after == "honour",
        max_requests=args.requests,
        duration=duration,
        progress=not args.quiet,
    )
    find_max = None
    if args.find_max:
        find_max = {
            "p99_ms": seconds["--p99"] * 1000,
            "start": args.start_rate,
            "factor": args.factor,
            "max_rate": args.max_rate,
            "refine": args.refine,
            "max_failures": args.max_failures,
            "step_s": seconds["--step"],
        }
    report = {
        "mix": mix, "rates": rates, "step_s": seconds["--step"], "poisson": args.poisson,
        "campaign": args.campaign, "batch_size": args.batch_size, "values": _source(args),
        "seed": seed, "at": traffic.at, "timeout_s": options.timeout,
        "connections": options.connections, "retry_after": args.retry_after,
        "duration_s": options.duration, "max_requests": options.max_requests,
        "find_max": find_max, "p99_ms": find_max["p99_ms"] if find_max else None,
    }  # fmt: skip
    return Config(
        base_url, templates, traffic, plan, options, report, args.hit_pool, not args.no_metrics,
        find_max,
    )  # fmt: skip


def _check_flags(args: argparse.Namespace) -> dict[str, float]:
    """The numeric flags checked; the durations in seconds."""
    numbers = {
        "--batch-size": args.batch_size,
        "--connections": args.connections,
        "--hit-pool": args.hit_pool,
        "--campaign": args.campaign,
        "--requests": args.requests,
        "--refine": args.refine + 1,
    }
    for flag, number in numbers.items():
        if number is not None and number < 1:
            raise RendererError(f"{flag} must be at least {1 if flag != '--refine' else 0}")
    if args.batch_size > 10_000:
        raise RendererError("--batch-size: the service takes at most 10,000 recipients a batch")
    if args.start_rate <= 0 or args.factor <= 1 or args.max_rate <= 0:
        raise RendererError("--start-rate and --max-rate must be above 0, --factor above 1")
    if not 0 <= args.max_failures < 1:
        raise RendererError("--max-failures is a share: at least 0 and under 1, such as 0.01")
    flags = ("--step", "--timeout", "--burst", "--window", "--p99", "--duration")
    return {
        flag: schedule.parse_seconds(getattr(args, flag[2:]), flag)
        for flag in flags
        if getattr(args, flag[2:]) is not None
    }


def _source(args: argparse.Namespace) -> str:
    return "csv" if args.audience else args.values


def _traffic(
    args: argparse.Namespace, base_url: str, templates: list[dict[str, Any]], rng: random.Random
) -> Traffic:
    settings = LoadtestSettings.from_env()
    keys = _signing_key(args.signing_key) if args.signing_key else settings.signing_keys
    rows = read_audience(args.audience) if args.audience else None
    return Traffic(
        base_url,
        templates,
        {t["name"]: Values(t, _source(args), rng, rows) for t in templates},
        Signer(keys),
        api_key=args.api_key or settings.api_key,
        at=args.at if args.at is not None else int(time.time()) // 60 * 60,
        batch_size=args.batch_size,
        rng=rng,
    )


def _signing_key(text: str) -> dict[str, bytes]:
    try:
        return LoadtestSettings.from_env({"RENDERER_SIGNING_KEYS": text}).signing_keys
    except RendererError:
        raise RendererError(
            "--signing-key: give KID:SECRET, the deployment's signing key (a secret of 16 or "
            "more characters)"
        ) from None


async def execute(config: Config) -> dict[str, Any]:
    """Check, warm up, run; the steps' results, the timeline, and find-max's answers."""
    async with engine.session(config.options) as session:
        await _preflight(config, session)
        if config.metrics:  # after the warm-up: only the run itself is counted
            config.metrics_before = await asyncio.to_thread(target.scrape, config.base_url)
        recorder = engine.Recorder()
        report: dict[str, Any] = {}
        if config.find_max:
            report["find_max"], report["find_max_lines"] = await _find_max(
                config, session, recorder
            )
            plan = Plan(config.steps_run, starts=config.step_starts)
        else:
            plan = config.plan
            await engine.drive(plan.arrivals(), config.traffic, config.options, recorder, session)
    steps = results.steps(recorder, plan)
    for step, start in zip(steps, plan.starts, strict=True):
        step["start"] = start
    return report | {"steps": steps, "timeline": results.timeline(recorder)}


async def _find_max(config: Config, session, recorder: engine.Recorder) -> tuple[dict, list[str]]:
    loop = asyncio.get_running_loop()
    began = loop.time()
    spec = config.find_max

    async def run_step(kind: str, rate: float) -> dict[str, Any] | None:
        offset = loop.time() - began
        if offset + spec["step_s"] > config.options.duration:
            return None
        index = len(config.steps_run)
        step = Step(rate, spec["step_s"], {kind: 1.0}, f"{kind} {rate:.4g}/s")
        config.steps_run.append(step)
        config.step_starts.append(offset)
        arrivals = (
            Arrival(offset + a.at, a.kind, index)
            for a in Plan([step], config.plan.poisson).arrivals()
        )
        await engine.drive(arrivals, config.traffic, config.options, recorder, session, offset)
        rows = [i for i in range(len(recorder)) if recorder.step[i] == index]
        plan = Plan(config.steps_run, starts=config.step_starts)
        return results.step(recorder, plan, index, rows)

    found, lines = {}, []
    for kind in ("render", "hit"):
        found[kind] = await findmax.search(
            kind,
            run_step,
            p99_ms=spec["p99_ms"],
            start=spec["start"],
            factor=spec["factor"],
            max_rate=spec["max_rate"],
            refine=spec["refine"],
            max_failures=spec["max_failures"],
        )
        lines.append(findmax.describe(kind, found[kind], spec["p99_ms"]))
    return found, lines


async def _preflight(config: Config, session: aiohttp.ClientSession) -> None:
    """One request of each kind the run will send, with every failure explained; then the
    pool of images that hits fetch."""
    kinds = {"render", "hit"} if config.find_max else {k for s in config.plan.steps for k in s.mix}
    traffic = config.traffic
    for template in config.templates:
        url = config.base_url + traffic.path(template)
        await _expect(session, Request("render", "GET", url, template=template["name"]), traffic)
    if "batch" in kinds:
        await _expect(session, traffic.make(Arrival(0, "batch", 0)), traffic, batch_probe=True)
    if "hit" in kinds and config.plan.campaign is None:
        lanes = asyncio.Semaphore(4)

        async def warm() -> None:
            async with lanes:
                await _expect(session, traffic.make(Arrival(0, "render", 0)), traffic)

        missing = max(0, config.hit_pool - len(traffic.pool))
        await asyncio.gather(*(warm() for _ in range(missing)))
    traffic.turn = traffic.batches = 0


async def _expect(session, request: Request, traffic: Traffic, batch_probe: bool = False) -> None:
    """Send ``request``; RendererError saying what to fix unless the answer is 2xx."""
    body = request.body
    if batch_probe:  # one recipient, not prerendered: checks the API key cheaply
        data = json.loads(body)
        body = json.dumps(
            data | {"recipients": data["recipients"][:1], "prerender": False}
        ).encode()
    try:
        async with session.request(
            request.method, yarl.URL(request.url, encoded=True), data=body, headers=request.headers
        ) as response:
            status, answer = response.status, await response.read()
    except (aiohttp.ClientError, OSError) as exc:
        raise RendererError(f"cannot reach {traffic.base_url}: {exc}") from None
    if 200 <= status < 300:
        if not batch_probe:
            traffic.learn(request, status, answer)
        return
    try:
        message = json.loads(answer)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = answer[:200].decode(errors="replace")
    hints = {
        403: "the deployment refused our signature: sign with its key "
        "(RENDERER_SIGNING_KEYS or --signing-key KID:SECRET)",
        401: "the deployment refused our API key, which batches need "
        "(RENDERER_API_KEYS or --api-key)",
    }
    where = f"{request.method} {request.url.split('?')[0]} ({request.template})"
    raise RendererError(f"{where} answered {status}: {hints.get(status, message)}")
