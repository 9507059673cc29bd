"""Templates by name: each folder of the templates directory, loaded, checked and versioned.

A template is ``template.svg`` (Jinja2 in text and attributes), ``manifest.toml`` and its
assets. Loading reads every file once into memory, so the version (a hash of all files) is
exactly what renders, and the rasterizer never touches the disk. A broken template is
reported with its file and line; the others still load.
"""

import hashlib
import io
import logging
import re
import shutil
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import TemplateError as JinjaError
from jinja2 import TemplateSyntaxError, nodes
from PIL import Image

from renderer.core import compose, fields, guard, limits, live, text
from renderer.core.encode import QualityPredictor
from renderer.core.errors import (
    FieldErrors,
    FieldProblem,
    RendererError,
    TemplateError,
    UnknownTemplate,
    line_of,
)
from renderer.core.filters import environment
from renderer.core.jpeg import StaticRows
from renderer.core.layers import Layers, analyse
from renderer.core.manifest import MANIFEST_FILE, Animation, parse_manifest
from renderer.core.raster import Fetcher

log = logging.getLogger(__name__)

SVG_FILE = "template.svg"
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
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
            return self.jinja.render(**values, now=now, frame=frame)
        except (JinjaError, ValueError, TypeError, ArithmeticError) as exc:
            raise TemplateError(str(exc), self.name, SVG_FILE, _template_line(exc)) from None

    def parse(self, svg: str) -> Any:
        """The checked element tree of a filled SVG; errors point at the template's line."""
        try:
            return guard.parse(svg, self.has_file)
        except TemplateError as exc:
            line = exc.line or line_of(self.source, _quoted(exc.message))
            raise TemplateError(exc.message, self.name, SVG_FILE, line) from None

    def has_file(self, path: str) -> bool:
        return path in self.files

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
    """Every template of one folder; ``errors`` holds the ones that did not load."""

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
                self.templates[path.name] = load_template(path)
            except TemplateError as exc:
                log.error("template not loaded: %s", exc)
                self.errors.append(exc)

    def reload(self, name: str) -> Template:
        """Load (again) one template after an upload; the version follows its new files."""
        template = load_template(self.folder / name)
        self.templates[name] = template
        self.errors = [e for e in self.errors if e.template != name]
        return template

    def remove(self, name: str) -> None:
        self.get(name)
        shutil.rmtree(self.folder / name)
        del self.templates[name]

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
    name = folder.name
    if not NAME.match(name):
        raise TemplateError("folder name must be lowercase letters, digits, '-' or '_'", name)
    files = _read_files(folder)
    for required in (MANIFEST_FILE, SVG_FILE):
        if required not in files:
            raise TemplateError(f"{required} is missing", name)
    manifest_text = _text(files[MANIFEST_FILE], name, MANIFEST_FILE)
    manifest = parse_manifest(manifest_text, name)
    source = _text(files[SVG_FILE], name, SVG_FILE)
    if re.search(r"<!(DOCTYPE|ENTITY)", source, re.IGNORECASE):
        line = line_of(source, "<!")
        raise TemplateError("DOCTYPE and entities are not allowed", name, SVG_FILE, line)
    layers = analyse(source)
    if not layers.layered:
        log.info("template %s renders whole: %s", name, layers.reason)
    try:
        jinja = environment.from_string(layers.source)
        uses_clock = _uses_clock(environment.parse(source))
    except TemplateSyntaxError as exc:
        raise TemplateError(exc.message or str(exc), name, SVG_FILE, exc.lineno) from None
    version = _version(files)
    rendered_files = _prepare_assets(files, name)
    template = Template(
        name=name,
        folder=folder,
        description=str(manifest.get("description", "")),
        width=manifest["width"],
        height=manifest["height"],
        format=manifest["format"],
        budget=manifest["budget"],
        fields=manifest["fields"],
        version=version,
        source=source,
        files=rendered_files,
        jinja=jinja,
        fetcher=Fetcher(str(folder.resolve()), rendered_files),
        uses_clock=uses_clock,
        layers=layers,
        animation=manifest.get("animation"),
    )
    size = (template.width, template.height)
    template.rows = StaticRows(lambda: compose.static_image(layers, size))
    _try_fill(template)
    return template


def _read_files(folder: Path) -> dict[str, bytes]:
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
        size = path.stat().st_size
        limit = limits.MAX_SVG_BYTES if relative == SVG_FILE else limits.MAX_ASSET_BYTES
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


def _prepare_assets(files: dict[str, bytes], name: str) -> dict[str, bytes]:
    """Assets as CairoSVG will read them, with their pixel size checked.

    CairoSVG draws PNG natively but re-encodes any other format to PNG on every render;
    doing it once here takes that off the render path.
    """
    prepared = dict(files)
    for path, data in files.items():
        if Path(path).suffix.lower() not in IMAGE_SUFFIXES:
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
                    buffer = io.BytesIO()
                    image.convert("RGBA" if "A" in image.getbands() else "RGB").save(
                        buffer, "PNG", compress_level=1
                    )
                    prepared[path] = buffer.getvalue()
        except (OSError, Image.DecompressionBombError) as exc:
            raise TemplateError(f"not a readable image: {exc}", name, path) from None
    return prepared


def _version(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    return digest.hexdigest()[:16]


def _try_fill(template: Template) -> None:
    """Fill with the sample and the extreme values, so a broken template fails at load; then
    draw the static layers (from either: they do not depend on values)."""
    for which in ("sample", "extreme"):
        raw = fields.example_values(template.fields, which)
        try:
            values = fields.validate(template.fields, raw)
        except RendererError as exc:
            raise TemplateError(f"{which} values: {exc}", template.name, MANIFEST_FILE) from None
        root = template.parse(template.fill(values, datetime.now(UTC)))
    if template.layers.layered:
        text.typeset(root)
        compose.prepare(template.layers, root, template.fetcher, (template.width, template.height))


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
