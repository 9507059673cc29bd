"""Lint: what a marketer should fix in a template before a send, each with a rule id, a
severity, a message, and where (element id or line; a box on the image where it has one).

Run by ``mms-renderer lint``, ``GET /v1/templates/{name}/lint``, the studio, and on upload
(a template with an error is not stored).
"""

import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import meta

from renderer.core import effects, fields, raster, salvage, text, transform
from renderer.core.cascade import inline
from renderer.core.catalog import Template, build_template, load_template, read_files
from renderer.core.errors import RendererError, TemplateError, line_of
from renderer.core.guard import SVG
from renderer.core.limits import LOW_QUALITY_WARNING, MAX_TEXT_SHARE
from renderer.core.perceptual import DISPLAY_WIDTH
from renderer.core.render import plan, render
from renderer.core.sandbox import environment
from renderer.core.text.style import StyleError, computed

ASPECTS = {(1, 1): "1:1", (4, 5): "4:5", (16, 9): "16:9"}
LINT_AT = datetime(2026, 11, 27, 10, tzinfo=UTC)
MEASURED_TEXTS = 100  # text-area draws each text alone: the first 100 say enough


# Every rule, with what it checks (the README lists the same, and a test keeps them equal).
RULES = {
    "load": "the template does not load (the message says why)",
    "undeclared-field": "a {{ placeholder }} is used but not declared in the manifest",
    "unused-field": "a field is declared but never used",
    "external-reference": "a reference to the network or a non-image data: URI",
    "outside-folder": "a reference outside the template's folder, or to no such file",
    "entity": "a DOCTYPE or an XML entity",
    "too-large": "a side over the pixel limits",
    "script": "a <script> element",
    "event-attribute": "an on* event attribute",
    "aspect-ratio": "an aspect ratio other than 1:1, 4:5 or 16:9",
    "render": "the sample or extreme values do not render",
    "cost": "it takes more work to load, fill or draw than a template may",
    "missing-font": "a font family that is not bundled",
    "effect": "a filter primitive or blend mode that is not drawn as a browser draws it",
    "missing-glyph": "text the fonts have no glyph for",
    "overflow": "text that runs off the image: without a box, or with a box past the edge",
    "text-cut": "fitted text cut with an ellipsis at its extreme values",
    "text-area": f"text covering more than {MAX_TEXT_SHARE:.0%} of the image",
    "budget": "the byte budget is only met below the width a phone shows an MMS at",
    "low-quality": f"the byte budget is only met below JPEG quality {LOW_QUALITY_WARNING}, "
    "or by sending a smaller image",
}

# What a template that does not load gets as its rule, by the loader's message.
LOAD_RULES = (
    (r"' is undefined|is used but not in the manifest", "undeclared-field"),
    (r"costs over|steps \(|characters and items|nest \d+ deep|too large a number", "cost"),
    (r"work budget|filled SVG is over|too wide|range of", "cost"),
    (r"external reference|data: URI", "external-reference"),
    (r"leaves the template folder|link to outside|no such file", "outside-folder"),
    (r"DOCTYPE|entities", "entity"),
    (r"over the \d+ px limit|px; at most|Mpx", "too-large"),
)


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" or "warning"
    rule: str
    message: str
    element: str | None = None
    line: int | None = None
    box: tuple[int, int, int, int] | None = None  # x, y, width, height on the image

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"lint rule {self.rule!r} is not in RULES")

    def __str__(self) -> str:
        where = ", ".join(
            ([self.element] if self.element else []) + ([f"line {self.line}"] if self.line else [])
        )
        return f"{self.severity}: {self.rule}: {self.message}" + (f" ({where})" if where else "")


def lint_folder(folder: Path) -> list[Finding]:
    """Lint a template folder, including one that does not even load: then what stopped it
    (each undeclared field, each refused reference) is declared or blanked in a copy
    (``salvage``), and the copy is linted for everything else."""
    try:
        return lint(load_template(folder))
    except TemplateError as exc:
        return not_loading(folder, exc)


def not_loading(folder: Path, exc: TemplateError) -> list[Finding]:
    """Every finding of a template that does not load (``exc`` says why)."""
    first = load_finding(exc)
    try:
        files, problems = salvage.patch(folder.name, read_files(folder))
    except TemplateError:
        return [first]
    found = [load_finding(problem) for problem in problems]
    if problems:
        try:
            found += lint(build_template(folder.name, files, folder))
        except TemplateError as again:
            found.append(load_finding(again))
    if first.rule not in {f.rule for f in found}:
        found.insert(0, first)
    return _unique(found)


def load_finding(exc: TemplateError) -> Finding:
    """The finding for a template that does not load, with the rule its message names."""
    rule = next((r for pattern, r in LOAD_RULES if re.search(pattern, exc.message)), "load")
    return Finding("error", rule, exc.message, element=exc.file or None, line=exc.line)


def lint(template: Template) -> list[Finding]:
    findings = _placeholders(template) + _markup(template) + _size(template)
    for which in ("sample", "extreme"):
        try:
            root = _filled(template, which)
            findings += _fonts(root, template.source) + _effects(root, template.source)
            done = _on_image(text.typeset(root), root, template)
            findings += _glyphs(done, which) + _fitting(template, done, which)
        except (RendererError, ValueError) as exc:
            findings.append(Finding("error", "render", f"{which} values: {exc}"))
    if not any(f.severity == "error" for f in findings):
        try:
            findings += _text_area(template) + _quality(template)
        except (RendererError, ValueError) as exc:  # it loads, but the sample does not render
            findings.append(Finding("error", "render", f"sample values: {exc}"))
    return _unique(findings)


def _placeholders(template: Template) -> list[Finding]:
    used = meta.find_undeclared_variables(environment.parse(template.source)) - {"now", "frame"}
    declared = set(template.fields)
    found = [
        Finding(
            "error",
            "undeclared-field",
            f"{{{{ {name} }}}} is used but not in the manifest",
            line=salvage.placeholder_line(template.source, name),
        )
        for name in sorted(used - declared)
    ]
    found += [
        Finding("warning", "unused-field", f"field {name!r} is declared but never used")
        for name in sorted(declared - used)
    ]
    return found


def _markup(template: Template) -> list[Finding]:
    found = []
    for pattern, rule in ((r"<script\b", "script"), (r"\son[a-z]+\s*=", "event-attribute")):
        for match in re.finditer(pattern, template.source, re.IGNORECASE):
            message = (
                "scripts are not allowed in a template"
                if rule == "script"
                else f"event attribute {match.group(0).strip()!r} is not allowed"
            )
            line = template.source.count("\n", 0, match.start()) + 1
            found.append(Finding("error", rule, message, line=line))
    return found


def _size(template: Template) -> list[Finding]:
    from math import gcd

    divisor = gcd(template.width, template.height)
    ratio = (template.width // divisor, template.height // divisor)
    if ratio not in ASPECTS:
        return [
            Finding(
                "warning",
                "aspect-ratio",
                f"{template.width}x{template.height} is not 1:1, 4:5 or 16:9: phones "
                "crop or letterbox it",
            )
        ]
    return []


def _filled(template: Template, which: str) -> ET.Element:
    values = fields.validate(template.fields, fields.example_values(template.fields, which))
    return template.parse(template.fill(values, LINT_AT))


def _fonts(root: ET.Element, source: str) -> list[Finding]:
    """A text (or tspan) whose first family is not bundled: it would be drawn in another.
    Its line is where the template first names the family (an attribute or a rule)."""
    fonts = text.fontset()
    inline(root)
    parents = {child: parent for parent in root.iter() for child in parent}
    found = []
    for element in root.iter():
        if element.tag not in (f"{{{SVG}}}text", f"{{{SVG}}}tspan"):
            continue
        try:
            family = computed(element, parents).families[0]
        except StyleError as exc:
            found.append(Finding("error", "render", str(exc), element=_name(element, parents)))
            continue
        if not fonts.has_family(family):
            found.append(
                Finding(
                    "error",
                    "missing-font",
                    f"font {family!r} is not bundled; it would be drawn in the fallback "
                    f"fonts{_did_you_mean(fonts.nearest(family))} (bundled: "
                    f"{', '.join(fonts.family_names())})",
                    element=_name(element, parents),
                    line=_family_line(source, family),
                )
            )
    return found


def _effects(root: ET.Element, source: str) -> list[Finding]:
    """Filters and blend modes drawn otherwise than a browser draws them."""
    found = []
    for name, what in effects.not_drawn(root):
        line = line_of(source, f'id="{name}"') or line_of(source, name)
        message = f"{what}: it would be left out or drawn otherwise"
        found.append(Finding("error", "effect", message, element=name, line=line))
    return found


def _did_you_mean(name: str | None) -> str:
    return f"; did you mean {name!r}?" if name else ""


def _family_line(source: str, family: str) -> int | None:
    match = re.search(r"font-family\s*[:=]\s*[\"']?[^;>]*" + re.escape(family), source, re.I)
    match = match or re.search(re.escape(family), source, re.IGNORECASE)
    return source.count("\n", 0, match.start()) + 1 if match else None


def _name(element: ET.Element, parents: dict) -> str:
    while element.get("id") is None and element in parents and element.tag != f"{{{SVG}}}text":
        element = parents[element]
    return element.get("id") or "text"


def _on_image(done: list[text.Fitted], root: ET.Element, template: Template):
    """The texts with their boxes in image pixels (the root's viewBox to the output size)."""
    matrix = transform.viewport(root, template.width, template.height)
    return [
        replace(f, box=transform.box(matrix, f.box)) if f.box and matrix != transform.IDENTITY
        else f
        for f in done
    ]  # fmt: skip


def _glyphs(done: list[text.Fitted], which: str) -> list[Finding]:
    return [
        Finding(
            "error",
            "missing-glyph",
            f"no bundled font has {', '.join(f'U+{ord(c):04X} {c!r}' for c in fitted.missing)}"
            f" in {fitted.text!r} ({which} values): it is left out",
            element=fitted.id,
        )
        for fitted in done
        if fitted.missing
    ]


def _fitting(template: Template, done: list[text.Fitted], which: str) -> list[Finding]:
    found = []
    for fitted in done:
        if fitted.ellipsized:
            found.append(
                Finding(
                    "warning",
                    "text-cut",
                    f"at the {which} values the text is cut to {fitted.text!r} at "
                    f"its minimum size {fitted.size:g}px",
                    element=fitted.id,
                )
            )
        elif fitted.box is not None:
            left, top, width, height = fitted.box
            if left < -0.5 or left + width > template.width + 0.5:
                fix = (
                    "its box (data-fit-width) reaches past the edge: make it narrower"
                    if fitted.fitted
                    else "give it a box (data-fit-width)"
                )
                found.append(
                    Finding(
                        "error",
                        "overflow",
                        f"at the {which} values {fitted.text!r} runs off the image; {fix}",
                        element=fitted.id,
                        box=(int(left), int(top), int(width), int(height)),
                    )
                )
    return found


def _text_area(template: Template) -> list[Finding]:
    """Share of the image under text, measured on the rendered text (extreme values)."""
    root = _filled(template, "extreme")
    for index, element in enumerate(root.iter(f"{{{SVG}}}text")):
        element.set("data-lint-text", str(index))
    text.typeset(root)
    boxes = []
    definitions = {f"{{{SVG}}}defs", f"{{{SVG}}}style"}
    for element in [e for e in root.iter() if e.get("data-lint-text")][:MEASURED_TEXTS]:
        alone = ET.Element(root.tag, root.attrib)
        for child in root:
            if child.tag in definitions:
                alone.append(child)
        alone.append(element)
        image = raster.rasterize(
            ET.tostring(alone), template.fetcher, template.width, template.height
        )
        box = image.getchannel("A").getbbox()
        if box:
            boxes.append((element.get("id") or "text", box))
    covered = sum((r - left) * (b - t) for _, (left, t, r, b) in boxes)
    share = covered / (template.width * template.height)
    if share <= MAX_TEXT_SHARE:
        return []
    return [
        Finding(
            "warning",
            "text-area",
            f"text covers {share:.0%} of the image (over {MAX_TEXT_SHARE:.0%}): carriers "
            "flag copy-heavy images as spam",
            element=name,
            box=(left, t, r - left, b - t),
        )
        for name, (left, t, r, b) in boxes
    ]


def _quality(template: Template) -> list[Finding]:
    """Whether the budget lets the image look good on a phone: the encoder sends a smaller
    image at a higher quality when that looks better than the full size at a low one."""
    sample = fields.example_values(template.fields, "sample")
    encoded = render(plan(template, sample, format="jpg", at=LINT_AT)).encoded
    budget = f"the budget of {template.budget:,} bytes"
    if encoded.width < min(template.width, DISPLAY_WIDTH):
        return [
            Finding(
                "error",
                "budget",
                f"{budget} is only met by scaling the image down to "
                f"{encoded.width}x{encoded.height}, smaller than a phone shows it",
            )
        ]
    if encoded.width < template.width:
        return [
            Finding(
                "warning",
                "low-quality",
                f"{budget} is met by sending {encoded.width}x{encoded.height} at JPEG quality "
                f"{encoded.quality}, which looks better on a phone than the full size would; "
                "raise the budget for the full size",
            )
        ]
    if encoded.quality is not None and encoded.quality < LOW_QUALITY_WARNING:
        return [
            Finding(
                "warning",
                "low-quality",
                f"{budget} is only met at JPEG quality {encoded.quality}: it will look bad",
            )
        ]
    return []


def _unique(findings: list[Finding]) -> list[Finding]:
    """The same finding at the sample and at the extreme values, once."""
    seen, out = set(), []
    for finding in findings:
        key = (finding.rule, finding.element, finding.message, finding.box)
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out


def report(findings: list[Finding]) -> dict:
    return {
        "errors": sum(f.severity == "error" for f in findings),
        "warnings": sum(f.severity == "warning" for f in findings),
        "findings": [asdict(f) for f in findings],
    }
