"""``mms-renderer``: list templates, render one image, serve the HTTP API, load-test it.

Bad input exits with code 2 and one line on stderr that says what to fix.
"""

import argparse
import importlib
import json
import logging
import os
import re
import sys
import tempfile
from pathlib import Path

from renderer.core.catalog import Catalog
from renderer.core.errors import RendererError
from renderer.core.limits import parse_bytes
from renderer.loadtest import command as loadtest
from renderer.settings import CampaignSettings, ServiceSettings, templates_dir


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request is noise here
    try:
        return args.command(args)
    except (RendererError, ValueError) as exc:
        print(f"mms-renderer: error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mms-renderer", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    templates_option = argparse.ArgumentParser(add_help=False)
    templates_option.add_argument(
        "--templates",
        metavar="DIR",
        help="templates folder (default: $RENDERER_TEMPLATES, else the bundled templates)",
    )

    _image_commands(commands, templates_option)
    _campaign_commands(commands)
    loadtest.add_command(commands)
    serve = commands.add_parser(
        "serve", parents=[templates_option], help="run the HTTP service (flags or RENDERER_*)"
    )
    serve.add_argument("--host", help="default 127.0.0.1 (RENDERER_HOST)")
    serve.add_argument("--port", type=int, help="default 8000 (RENDERER_PORT)")
    serve.add_argument("--workers", type=int, help="uvicorn worker processes (RENDERER_WORKERS)")
    serve.add_argument(
        "--redis", metavar="URL", help="shared cache and live values (RENDERER_REDIS_URL)"
    )
    serve.set_defaults(command=serve_http)
    return parser


def _image_commands(commands, templates_option: argparse.ArgumentParser) -> None:
    listing = commands.add_parser(
        "templates", parents=[templates_option], help="list the templates and their fields"
    )
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(command=list_templates)

    render = commands.add_parser(
        "render", parents=[templates_option], help="render one image to a file"
    )
    render.add_argument("template", help="template name")
    render.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="a field value"
    )
    render.add_argument(
        "--out", required=True, type=Path, help="output file; its extension picks the format"
    )
    render.add_argument(
        "--format", help="jpg, png or gif (default: the --out extension, else the template's)"
    )
    render.add_argument("--budget", help="byte budget such as 450KB (default: the template's)")
    render.add_argument("--at", help="pinned time for countdowns, ISO 8601 (default: now)")
    render.add_argument("--svg", type=Path, help="also write the filled SVG here (text as paths)")
    render.set_defaults(command=render_image)

    check = commands.add_parser("lint", help="lint template folders (exit 1 on errors)")
    check.add_argument(
        "folders",
        nargs="*",
        type=Path,
        metavar="TEMPLATE_DIR",
        help="template folders (default: every template of --templates)",
    )
    check.add_argument("--templates", metavar="DIR", help="templates folder")
    check.add_argument("--json", action="store_true")
    check.set_defaults(command=lint_templates)

    importing = commands.add_parser(
        "import", help="a design tool's SVG export -> a template folder to complete"
    )
    importing.add_argument("file", type=Path, metavar="FILE.svg")
    importing.add_argument("--name", help="template name (default: from the file name)")
    importing.add_argument("--templates", metavar="DIR", help="where to write the folder")
    importing.add_argument("--force", action="store_true", help="overwrite an existing folder")
    importing.set_defaults(command=import_svg)

    url = commands.add_parser(
        "url", parents=[templates_option], help="print a signed image URL (keys from RENDERER_*)"
    )
    url.add_argument("template", help="template name")
    url.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    url.add_argument("--format", help="jpg, png or gif (default: the template's)")
    url.add_argument("--at", help="pin the image's time: ISO 8601 or unix seconds")
    url.add_argument("--exp", type=int, help="expiry, unix seconds")
    url.set_defaults(command=signed_url)


def _campaign_commands(commands) -> None:
    campaign = commands.add_parser("campaign", help="send a campaign, see its status and report")
    actions = campaign.add_subparsers(required=True, metavar="ACTION")
    working = argparse.ArgumentParser(add_help=False)
    working.add_argument(
        "--no-local-worker", action="store_true", help="do not work the campaign here"
    )
    working.add_argument(
        "--until-idle", action="store_true", help="return when only deferred recipients are left"
    )
    send = actions.add_parser("send", parents=[working], help="enqueue and send")
    send.add_argument("file", type=Path, help="campaign.toml")
    send.add_argument("--audience", type=Path, required=True, help="the audience CSV")
    send.set_defaults(
        command=lambda a: _orchestrator().send(
            a.file, a.audience, not a.no_local_worker, a.until_idle
        )
    )
    status = actions.add_parser("status", help="totals by state, and why it is paused")
    status.add_argument("id")
    status.set_defaults(command=lambda a: _orchestrator().status(a.id))
    report = actions.add_parser("report", help="the campaign's report")
    report.add_argument("id")
    report.add_argument("--json", action="store_true")
    report.add_argument("--html", type=Path, metavar="FILE", help="also write an HTML report")
    report.set_defaults(command=lambda a: _orchestrator().report_command(a.id, a.json, a.html))
    resume = actions.add_parser(
        "resume", parents=[working], help="resume a paused campaign (and work it here)"
    )
    resume.add_argument("id")
    resume.set_defaults(
        command=lambda a: _orchestrator().resume(a.id, not a.no_local_worker, a.until_idle)
    )
    retry = actions.add_parser(
        "retry", parents=[working], help="send again to recipients that failed"
    )
    retry.add_argument("id")
    retry.add_argument(
        "--failed", action="store_true", required=True, help="the recipients that failed"
    )
    retry.add_argument("--code", metavar="N", help="only those that failed with error code N")
    retry.set_defaults(
        command=lambda a: _orchestrator().retry(a.id, a.code, not a.no_local_worker, a.until_idle)
    )
    pause = actions.add_parser("pause", help="stop every worker sending it, until resume")
    pause.add_argument("id")
    pause.set_defaults(command=lambda a: _orchestrator().pause(a.id))
    cancel = actions.add_parser("cancel", help="send nothing more: skip everyone left")
    cancel.add_argument("id")
    cancel.set_defaults(command=lambda a: _orchestrator().cancel(a.id))

    work = commands.add_parser("worker", help="work campaigns from Redis (run on any machine)")
    work.add_argument("--campaign", help="only this campaign")
    work.set_defaults(command=lambda a: _orchestrator().worker(a.campaign))

    _sandbox_command(commands)

    recipients = commands.add_parser("recipients", help="personal data")
    recipient_actions = recipients.add_subparsers(required=True, metavar="ACTION")
    forget = recipient_actions.add_parser("forget", help="erase a person's data, keep opt-outs")
    forget.add_argument("phones", nargs="+")
    forget.set_defaults(command=lambda a: _orchestrator().forget(a.phones))


def _sandbox_command(commands) -> None:
    sandbox = commands.add_parser("sandbox-provider", help="a local Twilio-compatible provider")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8010)
    sandbox.add_argument("--failure-rate", type=float, default=0.0)
    sandbox.add_argument("--storm-rate", type=float, default=0.0, help="share answered 429")
    sandbox.add_argument(
        "--chaos",
        action="store_true",
        help="status callbacks in random order, repeated, and some before the create answers",
    )
    sandbox.add_argument("--latency", type=float, default=0.0, help="seconds per create call")
    sandbox.add_argument(
        "--no-delivery",
        dest="deliver",
        action="store_false",
        help="accept and keep messages, but fetch no media and post no callbacks",
    )
    sandbox.set_defaults(
        command=lambda a: _orchestrator().sandbox(
            a.host, a.port, a.failure_rate, a.storm_rate, a.chaos, a.latency, a.deliver
        )
    )


def list_templates(args: argparse.Namespace) -> int:
    catalog = Catalog(templates_dir(args.templates))
    summaries = [t.summary() for t in catalog.templates.values()]
    if args.json:
        broken = [{"template": e.template, "error": str(e)} for e in catalog.errors]
        print(json.dumps({"templates": summaries, "errors": broken}, indent=2))
    else:
        for s in summaries:
            print(
                f"{s['name']:<16} {s['width']}x{s['height']} {s['format']} "
                f"budget {s['budget']:,} B  version {s['version']}"
            )
            print(f"    {s['description']}")
            if s["whole_because"]:
                print(f"    drawn whole for every image: {s['whole_because']}")
            else:
                print(f"    layered: {s['redrawn']:.0%} of the image drawn per recipient")
            if s["frame"]:
                print(f"    {s['frame']}")
            for name, f in s["fields"].items():
                need = "required" if f["required"] else f"default {f['default']!r}"
                print(f"    {name:<14} {f['type']:<8} {need}  sample {f['sample']!r}")
        for error in catalog.errors:
            print(f"broken: {error}")
    return 1 if catalog.errors else 0


def render_image(args: argparse.Namespace) -> int:
    from renderer.core import render  # imports CairoSVG: only the commands that draw pay

    values = _values(args.set)
    at = _at(args.at)
    budget = parse_bytes(args.budget) if args.budget else None
    template = Catalog(templates_dir(args.templates)).get(args.template)
    format = _out_format(args.out, args.format)
    job = render.plan(template, values, format=format, budget=budget, at=at)
    result = render.render(job)
    if args.svg:
        args.svg.write_text(render.svg(job))
    args.out.write_bytes(result.encoded.data)
    encoded = result.encoded
    stages = ", ".join(f"{stage} {seconds * 1000:.0f}" for stage, seconds in result.timings.items())
    print(
        f"{args.out}: {encoded.describe()} (budget {job.budget:,}), "
        f"{encoded.encodes} encodes, {result.seconds * 1000:.0f} ms ({stages})"
    )
    for fitted in result.fitted:
        if fitted.ellipsized:
            print(f"  {fitted.id}: ellipsized to {fitted.text!r} at {fitted.size}px")
    for name, characters in result.missing.items():
        codes = " ".join(f"U+{ord(c):04X}" for c in characters)
        print(f"  {name}: no bundled font has {codes}; left out of the image")
    return 0


def lint_templates(args: argparse.Namespace) -> int:
    from renderer.core import lint

    folders = args.folders or sorted(
        p
        for p in templates_dir(args.templates).iterdir()
        if p.is_dir() and (p / "manifest.toml").exists()
    )
    reports, errors = {}, 0
    for folder in folders:
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder")
        findings = lint.lint_folder(folder)
        reports[folder.name] = lint.report(findings)
        errors += reports[folder.name]["errors"]
        if not args.json:
            print(f"{folder.name}: {len(findings) or 'no'} findings")
            for finding in findings:
                print(f"  {finding}")
    if args.json:
        print(json.dumps(reports, indent=2))
    return 1 if errors else 0


def import_svg(args: argparse.Namespace) -> int:
    from renderer.core import importer

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise ValueError(f"{args.file}: {exc.strerror}") from None
    name = args.name or re.sub(r"[^a-z0-9_-]+", "_", args.file.stem.lower()).strip("_-")
    found = importer.inspect(data)
    folder = importer.write(templates_dir(args.templates) / name, data, found, args.force)
    for line in found.lines():
        print(f"  {line}")
    print(f"wrote {folder}/: complete the TODOs in manifest.toml, then mms-renderer lint {folder}")
    return 0


def signed_url(args: argparse.Namespace) -> int:
    from renderer.core import render
    from renderer.service.signing import sign_url

    settings = ServiceSettings.from_env()
    template = Catalog(templates_dir(args.templates)).get(args.template)
    values = _values(args.set)
    at = _at(args.at)
    job = render.plan(template, values, format=args.format, at=at)  # bad values fail here
    kid, secret = next(iter(settings.signing_keys.items()))
    print(
        sign_url(
            settings.public_url,
            template.name,
            job.format,
            values,
            kid=kid,
            secret=secret,
            at=int(at.timestamp()) if at else None,
            exp=args.exp,
        )
    )
    return 0


def serve_http(args: argparse.Namespace) -> int:
    """Flags become RENDERER_* variables, so every uvicorn worker reads the same settings."""
    import uvicorn

    from renderer.service.accesslog import uvicorn_log_config

    flags = {
        "HOST": args.host,
        "PORT": args.port,
        "WORKERS": args.workers,
        "TEMPLATES": args.templates,
        "REDIS_URL": args.redis,
    }
    for name, value in flags.items():
        if value is not None:
            os.environ[f"RENDERER_{name}"] = str(value)
    settings = ServiceSettings.from_env()  # fail here, with one line, not in every worker
    CampaignSettings.from_env()
    if settings.workers > 1 and not settings.metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="mms-renderer-metrics-")
    uvicorn.run(
        "renderer.service.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,  # renderer.accesslog writes one line per request, signatures redacted
        log_config=uvicorn_log_config(),
    )
    return 0


def _orchestrator():
    """The campaign commands (imported only when one runs: they need Redis and httpx)."""
    return importlib.import_module("renderer.orchestrator.commands")


def _out_format(out: Path, format: str | None) -> str | None:
    """``--format`` when given; else the ``--out`` extension, so ``x.png`` holds a PNG and not
    JPEG bytes; None (the template's format) for a file with no extension."""
    from renderer.core.encode import normalize_format

    if format or not out.suffix:
        return format
    try:
        return normalize_format(out.suffix)
    except ValueError:
        raise ValueError(
            f"--out {out.name}: {out.suffix!r} is not .jpg, .jpeg, .png or .gif; "
            "rename the file or say --format"
        ) from None


def _values(items: list[str]) -> dict[str, str]:
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: write it as FIELD=VALUE")
        values[name.strip()] = value
    return values


def _at(text: str | None):
    """``--at``: unix seconds or ISO 8601; None when not given."""
    from renderer.core.render import parse_at

    if not text:
        return None
    try:
        return parse_at(text)
    except ValueError as exc:
        raise ValueError(f"--at {text!r}: {exc}") from None
