"""A template that does not load, made to load, so that lint lists everything wrong with it
at once: a marketer should not fix one finding, upload, and meet the next.

Loading stops at the first undeclared ``{{ field }}`` (filling fails) or the first refused
reference (a URL, a file outside the folder). ``patch`` finds all of them in the raw files,
declares each undeclared field in a copy of the manifest (a text field whose sample is its
name) and points each refused reference at nothing (a paint that does not exist, an image of
one transparent pixel), and returns the copy
with what it changed, each as the error loading would have raised, with its line.
"""

import re
import xml.etree.ElementTree as ET

from jinja2 import TemplateSyntaxError, meta

from renderer.core import guard
from renderer.core.errors import TemplateError, line_of
from renderer.core.manifest import MANIFEST_FILE, parse_manifest
from renderer.core.sandbox import environment

SVG_FILE = "template.svg"
NOWHERE = "#salvaged"  # a paint server that does not exist: no paint
# an image of one transparent pixel, in place of a refused image
NOTHING = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgY"
           "GBgAAAABQABpfZFQAAAAABJRU5ErkJggg==")  # fmt: skip
GIVEN = {"now", "frame"}  # what the renderer passes besides the fields


def patch(name: str, files: dict[str, bytes]) -> tuple[dict[str, bytes], list[TemplateError]]:
    """(the files with the problems patched, the problems) — (files, []) when there is
    nothing this can patch (the manifest itself is broken, the source is not a template)."""
    try:
        source = files[SVG_FILE].decode()
        manifest = files[MANIFEST_FILE].decode()
        declared = set(parse_manifest(manifest, name)["fields"])
        used = meta.find_undeclared_variables(environment.parse(source)) - GIVEN
    except (KeyError, UnicodeDecodeError, TemplateError, TemplateSyntaxError):
        return files, []
    problems = []
    for name in sorted(used - declared):
        message = f"{{{{ {name} }}}} is used but not in the manifest"
        problems.append(TemplateError(message, file=SVG_FILE, line=placeholder_line(source, name)))
        manifest += f'\n[fields.{name}]\ntype = "text"\nsample = "{name}"\n'
    for reference, error in _refused(source, files):
        problems.append(error)
        quoted = re.escape(reference)
        source = re.sub(rf"url\(\s*['\"]?{quoted}['\"]?\s*\)", f"url({NOWHERE})", source)
        source = source.replace(reference, NOTHING)
    patched = {**files, SVG_FILE: source.encode(), MANIFEST_FILE: manifest.encode()}
    return patched, problems


def _refused(source: str, files: dict[str, bytes]) -> list[tuple[str, TemplateError]]:
    """The references of the source as written that the guard refuses (each once)."""
    try:
        root = ET.fromstring(source[source.find("<svg") :])
    except ET.ParseError:
        return []
    assets = {name: 0 for name in files}
    found: dict[str, TemplateError] = {}  # reference -> why it is refused
    for element in root.iter():
        for reference in guard.references(element):
            if "{" in reference or reference in found:
                continue
            try:
                guard.check_reference(reference, assets)
            except TemplateError as exc:
                line = line_of(source, reference)
                found[reference] = TemplateError(exc.message, file=SVG_FILE, line=line)
    return list(found.items())


def placeholder_line(source: str, name: str) -> int | None:
    """The line of the first Jinja expression or statement that names ``name``."""
    match = re.search(r"\{[{%][^}]*\b" + re.escape(name) + r"\b", source)
    return source.count("\n", 0, match.start()) + 1 if match else None
