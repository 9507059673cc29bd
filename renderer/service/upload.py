"""Templates uploaded by marketers: unpacked safely, linted, and stored only when clean.

A zip (or a set of files) is unpacked into a staging folder inside the templates folder, so
nothing is ever written outside it: names with ``..``, absolute paths, links, more than 200
files, or more than 30 MB unpacked (counted while decompressing, so a zip bomb stops at the
limit, whatever its headers say) are refused. Lint runs on the staged folder; with no error it
replaces the template atomically (a rename), which changes its version, so images cached for
the old one are never served for the new one.
"""

import io
import re
import secrets
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from renderer.core import importer, lint
from renderer.core.catalog import NAME
from renderer.core.errors import RendererError
from renderer.core.limits import MAX_TEMPLATE_FILES
from renderer.core.manifest import MANIFEST_FILE
from renderer.service.limits import MAX_UNPACKED_BYTES


class UnsafeUpload(RendererError):
    code = "unsafe_upload"


def files_from_zip(data: bytes) -> dict[str, bytes]:
    """The files of a zip, checked; one top folder, if every file is in it, is dropped."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise UnsafeUpload("not a zip file") from None
    entries = [e for e in archive.infolist() if not e.is_dir()]
    if len(entries) > MAX_TEMPLATE_FILES:
        raise UnsafeUpload(f"{len(entries):,} files; at most {MAX_TEMPLATE_FILES}")
    if sum(e.file_size for e in entries) > MAX_UNPACKED_BYTES:
        raise UnsafeUpload(f"unpacks to over {MAX_UNPACKED_BYTES:,} bytes")
    files: dict[str, bytes] = {}
    total = 0
    for entry in entries:
        name = _safe_name(entry.filename)
        if stat.S_ISLNK(entry.external_attr >> 16):
            raise UnsafeUpload(f"{entry.filename!r} is a link; links are not allowed")
        chunks = []
        with archive.open(entry) as stream:
            while chunk := stream.read(65536):
                total += len(chunk)
                if total > MAX_UNPACKED_BYTES:  # the headers lied: a zip bomb
                    raise UnsafeUpload(f"unpacks to over {MAX_UNPACKED_BYTES:,} bytes")
                chunks.append(chunk)
        files[name] = b"".join(chunks)
    tops = {PurePosixPath(name).parts[0] for name in files}
    if len(tops) == 1 and all(len(PurePosixPath(n).parts) > 1 for n in files):
        files = {
            PurePosixPath(n).relative_to(next(iter(tops))).as_posix(): d for n, d in files.items()
        }
    return files


def files_from_svg(
    templates: Path, data: bytes, name: str, force: bool
) -> tuple[dict[str, bytes], importer.Found]:
    """A raw design-tool export (``mms-renderer import`` over HTTP): the SVG as it is and a
    manifest skeleton, as a template's files; a name in use is refused unless ``force``."""
    if not NAME.match(name):
        raise UnsafeUpload("?name= is the template's name: lowercase letters, digits, - or _")
    if (templates / name).exists() and not force:
        raise importer.TemplateExists(f"a template named {name!r} exists; add &force=1")
    found = importer.inspect(data)
    manifest = importer.manifest(name, found).encode()
    return {"template.svg": data, MANIFEST_FILE: manifest}, found


def store(templates: Path, files: dict[str, bytes]) -> tuple[str, list[lint.Finding]]:
    """Stage, lint and (when clean) store a template; its name comes from its manifest."""
    for name in files:
        _safe_name(name)
    if MANIFEST_FILE not in files:
        raise UnsafeUpload("the upload has no manifest.toml at its top")
    match = re.search(rb'^\s*name\s*=\s*"([^"]+)"', files[MANIFEST_FILE], re.MULTILINE)
    if not match or not NAME.match(match.group(1).decode()):
        raise UnsafeUpload('manifest.toml needs name = "..." (lowercase letters, digits, - or _)')
    name = match.group(1).decode()
    staging = templates / f".upload-{secrets.token_hex(6)}"
    staged = staging / name
    try:
        for path, data in files.items():
            target = staged / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        findings = lint.lint_folder(staged)
        if not any(f.severity == "error" for f in findings):
            final = templates / name
            retired = staging / "retired"
            if final.exists():
                final.rename(retired)
            staged.rename(final)
        return name, findings
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _safe_name(name: str) -> str:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts or ":" in path.parts[0]:
        raise UnsafeUpload(f"{name!r} would be written outside the template's folder")
    if any(part.startswith(".") for part in path.parts):
        raise UnsafeUpload(f"{name!r}: hidden files are not allowed")
    return path.as_posix()
