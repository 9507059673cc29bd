"""Templates by name: each folder of the templates directory, loaded, checked and versioned.

A template is ``template.svg`` (Jinja2 in text and attributes), ``manifest.toml`` and its
assets. Loading reads every file once into memory, so the version (a hash of all files) is
exactly what renders, and the rasterizer never touches the disk: a template is built from
its files (``build_template``), whether they come from a folder or from the service's
template store. A broken template is reported with its file and line, whatever went wrong
in it; the others still load.
"""

import contextlib
import hashlib
import io
import logging
import re
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from PIL import Image

from renderer.core import compose, fields, guard, limits, live, sandbox, text
from renderer.core.encode import QualityPredictor
from renderer.core.errors import (
    FieldErrors,
    FieldProblem,
    RendererError,
    TemplateError,
    UnknownTemplate,
    line_of,
)
from renderer.core.jpeg import StaticRows
from renderer.core.layers import Layers, analyse
from renderer.core.manifest import MANIFEST_FILE, Animation, parse_manifest
from renderer.core.raster import Fetcher

log = logging.getLogger(__name__)

SVG_FILE = "template.svg"
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")  # fullmatch: a trailing newline is no name
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp"}


@dataclass
class Template:
    name: str
    folder: Path
    description: str
    width: int
    height: int
    format: str
    budget: int
    fields: dict[str, fields.Field]
    version: str
    source: str
    files: dict[str, bytes] = field(repr=False)
    assets: dict[str, int] = field(repr=False)  # every file -> what drawing it as an image costs
    jinja: Any = field(repr=False)
    fetcher: Fetcher = field(repr=False)
    uses_clock: bool = False  # shows something computed from "now" (a countdown)
    animation: Animation | None = None
    layers: Layers = field(default=None, repr=False)  # how it is drawn
    predictor: QualityPredictor = field(default_factory=QualityPredictor, repr=False)
    rows: StaticRows = field(default=None, repr=False)  # its static image as JPEG rows

    @property
    def live_fields(self) -> list[str]:
        return [name for name, f in self.fields.items() if f.live]

    def refuse_live(self, names: Iterable[str], where: str) -> None:
        """FieldErrors when a caller sets a live field, which only its feed may set."""
        problems = [
            FieldProblem(
                name,
                f"is live: it comes from {live.KINDS[self.fields[name].live].source}, not {where}",
            )
            for name in names
            if name in self.fields and self.fields[name].live
        ]
        if problems:
            raise FieldErrors(problems)

    def fill(self, values: Mapping[str, Any], now: datetime, frame: int = 0) -> str:
        """The SVG text with the values put in (escaped); TemplateError with the line if not.
        ``frame`` is the frame of an animation (0 for a still)."""
        try:
            return sandbox.fill(self.jinja, {**values, "now": now, "frame": frame})
        except TemplateError as exc:
            raise TemplateError(exc.message, self.name, SVG_FILE, _template_line(exc)) from None
        except Exception as exc:  # the template's own code failed: its fault, never ours
            raise TemplateError(str(exc), self.name, SVG_FILE, _template_line(exc)) from None

    def parse(self, svg: str) -> Any:
        """The checked element tree of a filled SVG; errors point at the template's line."""
        try:
            return guard.parse(svg, self.assets)
        except TemplateError as exc:
            line = exc.line or line_of(self.source, _quoted(exc.message))
            raise TemplateError(exc.message, self.name, SVG_FILE, line) from None

    def summary(self) -> dict[str, Any]:
        """The template as the CLI and the API list it."""
        return {
            "name": self.name,
            "description": self.description,
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "budget": self.budget,
            "version": self.version,
            "layered": self.layers.layered,
            "animation": None
            if self.animation is None
            else {
                "kind": self.animation.kind,
                "frames": self.animation.frames,
                "durations": list(self.animation.durations),
            },
            "whole_because": self.layers.reason or None,
            "redrawn": round(self.layers.redrawn, 3),  # share of the area drawn per image
            "frame": self.layers.note or None,
            "fields": {
                name: {
                    "type": f.type,
                    "required": f.required,
                    "default": f.default,
                    "max_length": f.max_length if f.type in fields.TEXT_TYPES else None,
                    "missing_glyphs": f.missing_glyphs if f.type == "text" else None,
                    "live": f.live,
                    "min": None if f.min is None else str(f.min),
                    "max": None if f.max is None else str(f.max),
                    "choices": list(f.choices) or None,
                    "sample": f.sample,
                    "extreme": f.extreme,
                    "description": f.description,
                }
                for name, f in self.fields.items()
            },
        }


class Catalog:
    """Templates by name; ``errors`` holds the ones that did not load. Built from a folder
    (the CLI, and the service's seed), then kept up to date by the service's store."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.templates: dict[str, Template] = {}
        self.errors: list[TemplateError] = []
        if not folder.is_dir():
            raise RendererError(f"templates folder {folder} does not exist")
        for path in sorted(folder.iterdir()):
            if not path.is_dir() or path.name.startswith((".", "_")):
                continue
            if not (path / MANIFEST_FILE).exists() and not (path / SVG_FILE).exists():
                continue
            try:
                self.put(load_template(path))
            except TemplateError as exc:
                self.broken(exc)

    def put(self, template: Template) -> None:
        """Serve ``template`` under its name (a new one, or a new version)."""
        self.templates[template.name] = template
        self.errors = [e for e in self.errors if e.template != template.name]

    def drop(self, name: str) -> None:
        self.templates.pop(name, None)
        self.errors = [e for e in self.errors if e.template != name]

    def broken(self, error: TemplateError) -> None:
        """Report a template that did not load; the others keep serving."""
        log.error("template not loaded: %s", error)
        self.templates.pop(error.template, None)
        self.errors = [e for e in self.errors if e.template != error.template] + [error]

    def get(self, name: str) -> Template:
        template = self.templates.get(name)
        if template is None:
            broken = next((e for e in self.errors if e.template == name), None)
            if broken:
                raise UnknownTemplate(f"template {name!r} is broken: {broken}")
            known = ", ".join(self.templates) or "none"
            raise UnknownTemplate(f"no template named {name!r}; known: {known}")
        return template


def load_template(folder: Path) -> Template:
    """Read, check and compile one template folder; TemplateError says file and line."""
    return build_template(folder.name, read_files(folder), folder)


def build_template(name: str, files: dict[str, bytes], folder: Path) -> Template:
    """Check and compile a template from its files. ``folder`` is where it says it lives
    (its files are never read from there again). Whatever goes wrong is a TemplateError."""
    try:
        return _build(name, files, folder)
    except TemplateError as exc:
        exc.template = exc.template or name
        raise
    except MemoryError:
        raise TemplateError("ran out of memory: over its work budget", name) from None
    except Exception as exc:  # a library choked on it: still the template's fault
        log.warning("template %s does not load", name, exc_info=True)
        raise TemplateError(f"does not load: {type(exc).__name__}: {exc}", name) from None


def _build(name: str, files: dict[str, bytes], folder: Path) -> Template:
    if not NAME.fullmatch(name):
        raise TemplateError("name must be lowercase letters, digits, '-' or '_'", name)
    for required in (MANIFEST_FILE, SVG_FILE):
        if required not in files:
            raise TemplateError(f"{required} is missing", name)
    manifest = parse_manifest(_text(files[MANIFEST_FILE], name, MANIFEST_FILE), name)
    source = _text(files[SVG_FILE], name, SVG_FILE)
    if re.search(r"<!(DOCTYPE|ENTITY)", source, re.IGNORECASE):
        line = line_of(source, "<!")
        raise TemplateError("DOCTYPE and entities are not allowed", name, SVG_FILE, line)
    layers = analyse(source)
    static_runs = sum(run.static for run in layers.runs)
    if static_runs * manifest["width"] * manifest["height"] * 4 > limits.MAX_LAYER_BYTES:
        layers = Layers(source, reason=f"{static_runs} static layers are too many to keep")
    if not layers.layered:
        log.info("template %s renders whole: %s", name, layers.reason)
    try:
        jinja = sandbox.environment.from_string(layers.source)
        uses_clock = _uses_clock(sandbox.environment.parse(source))
    except TemplateSyntaxError as exc:
        raise TemplateError(exc.message or str(exc), name, SVG_FILE, exc.lineno) from None
    rendered_files, assets = _prepare_assets(files, name)
    template = Template(
        name=name,
        folder=folder,
        description=str(manifest.get("description", "")),
        width=manifest["width"],
        height=manifest["height"],
        format=manifest["format"],
        budget=manifest["budget"],
        fields=manifest["fields"],
        version=version_of(files),
        source=source,
        files=rendered_files,
        assets=assets,
        jinja=jinja,
        fetcher=Fetcher(rendered_files),
        uses_clock=uses_clock,
        layers=layers,
        animation=manifest.get("animation"),
    )
    size = (template.width, template.height)
    template.rows = StaticRows(lambda: compose.static_image(layers, size))
    _try_fill(template)
    return template


def read_files(folder: Path) -> dict[str, bytes]:
    """Every regular file under ``folder`` (relative posix path -> bytes), within limits."""
    root = folder.resolve()
    files: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            raise TemplateError("is a link to outside the template folder", folder.name, relative)
        if not path.is_file():
            continue
        if len(files) >= limits.MAX_TEMPLATE_FILES:
            raise TemplateError(f"more than {limits.MAX_TEMPLATE_FILES} files", folder.name)
        if len(relative) > limits.MAX_PATH_CHARS:
            raise TemplateError(f"path is over {limits.MAX_PATH_CHARS} characters", folder.name)
        size = path.stat().st_size
        limit = limits.MAX_SVG_BYTES if relative == SVG_FILE else limits.MAX_ASSET_BYTES
        limit = limits.MAX_MANIFEST_BYTES if relative == MANIFEST_FILE else limit
        if size > limit:
            raise TemplateError(f"is {size:,} bytes; at most {limit:,}", folder.name, relative)
        files[relative] = path.read_bytes()
    return files


def _text(data: bytes, name: str, file: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TemplateError("is not UTF-8 text", name, file, line) from None


def _prepare_assets(files: dict[str, bytes], name: str) -> tuple[dict[str, bytes], dict[str, int]]:
    """Assets as CairoSVG will read them, and what drawing each as an image costs.

    Every image is sized from its header before it is decoded (``guard.image_cost``); an SVG
    file is guarded like the template. CairoSVG draws PNG natively but re-encodes any other
    format to PNG on every render; doing it once here takes that off the render path.
    """
    prepared, costs = dict(files), {}
    for path, data in files.items():
        costs[path] = 1
        if path in (SVG_FILE, MANIFEST_FILE):
            continue
        is_image = Path(path).suffix.lower() in IMAGE_SUFFIXES
        if not is_image and b"<svg" not in data:  # not something CairoSVG draws as an image
            continue
        try:
            costs[path] = guard.image_cost(data)
        except TemplateError as exc:
            raise TemplateError(exc.message, name, path) from None
        if not is_image:
            continue
        try:
            with Image.open(io.BytesIO(data)) as image:
                if max(image.size) > limits.MAX_ASSET_SIDE_PX:
                    raise TemplateError(
                        f"image is {image.width}x{image.height} px; "
                        f"at most {limits.MAX_ASSET_SIDE_PX} px per side",
                        name,
                        path,
                    )
                if image.format != "PNG":
                    if image.mode not in ("RGB", "RGBA"):  # else saved as decoded: no copy
                        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
                    buffer = io.BytesIO()
                    image.save(buffer, "PNG", compress_level=1)
                    prepared[path] = buffer.getvalue()
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise TemplateError(f"not a readable image: {exc}", name, path) from None
    return prepared, costs


def version_of(files: Mapping[str, bytes]) -> str:
    """A template version's name: a hash of its files (paths and contents)."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    return digest.hexdigest()[:16]


def _try_fill(template: Template) -> None:
    """Fill with the sample and the extreme values, so a broken template fails at load; then
    draw the static layers (from either: they do not depend on values), and measure how much
    of the image the dynamic ones draw on at the extreme values."""
    roots = []
    for which in ("sample", "extreme"):
        raw = fields.example_values(template.fields, which)
        try:
            values = fields.validate(template.fields, raw)
        except RendererError as exc:
            raise TemplateError(f"{which} values: {exc}", template.name, MANIFEST_FILE) from None
        roots.append(template.parse(template.fill(values, datetime.now(UTC))))
    if template.layers.layered:
        size = (template.width, template.height)
        text.typeset(roots[0])
        compose.prepare(template.layers, roots[0], template.fetcher, size)
        with contextlib.suppress(TemplateError):  # lint says what does not draw
            compose.fit_dynamic(template.layers, roots[1])
            template.layers.redrawn = compose.redrawn(
                template.layers, roots[1], template.fetcher, size
            )


def _uses_clock(tree: nodes.Template) -> bool:
    """Whether the template reads "now", directly or through a countdown or ``is past``."""
    return (
        any(n.name == "now" for n in tree.find_all(nodes.Name))
        or any(n.name == "countdown" for n in tree.find_all(nodes.Filter))
        or any(n.name == "past" for n in tree.find_all(nodes.Test))
    )


def _template_line(exc: BaseException) -> int | None:
    """The template line a Jinja2 error happened at (Jinja2 puts it in the traceback)."""
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<template>"]
    return frames[-1].lineno if frames else None


def _quoted(message: str) -> str:
    match = re.search(r"'([^']+)'", message)
    return match.group(1) if match else ""
