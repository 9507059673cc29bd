"""Templates uploaded by marketers: unpacked safely, then linted where their work is bounded.

A zip (or a set of files) becomes a dict of relative paths to bytes, in memory: names with
``..``, absolute paths, links, hidden files, control characters, a name that is both a file
and a folder, more than 200 files, or more than 30 MB unpacked (counted while decompressing,
so a zip bomb stops at the limit, whatever its headers say) are refused, and so is any zip
the standard library cannot read (a bad CRC, lying sizes, encryption, deflate64). Lint runs
in a child process within the work budget (``renderer.core.isolation``), on a copy in a
private temporary folder; the service stores a clean template in its template store, never
in the templates folder.
"""

import io
import re
import stat
import tempfile
import tomllib
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from renderer.core import importer, lint
from renderer.core.catalog import NAME
from renderer.core.errors import RendererError
from renderer.core.isolation import lint_isolated
from renderer.core.limits import MAX_MANIFEST_BYTES, MAX_PATH_CHARS, MAX_TEMPLATE_FILES
from renderer.core.manifest import MANIFEST_FILE
from renderer.service.limits import MAX_UNPACKED_BYTES

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
READABLE = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


class UnsafeUpload(RendererError):
    code = "unsafe_upload"


def files_from_zip(data: bytes | bytearray) -> dict[str, bytes]:
    """The files of a zip, checked; one top folder, if every file is in it, is dropped."""
    try:
        return _unzip(zipfile.ZipFile(io.BytesIO(data)))
    except UnsafeUpload:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, zlib.error) as exc:
        raise UnsafeUpload(f"not a readable zip file: {exc}") from None
    except (NotImplementedError, RuntimeError, ValueError) as exc:  # methods, passwords
        raise UnsafeUpload(f"the zip cannot be read: {exc}") from None


def _unzip(archive: zipfile.ZipFile) -> dict[str, bytes]:
    entries = [e for e in archive.infolist() if not e.is_dir()]
    if len(entries) > MAX_TEMPLATE_FILES:
        raise UnsafeUpload(f"{len(entries):,} files; at most {MAX_TEMPLATE_FILES}")
    if sum(e.file_size for e in entries) > MAX_UNPACKED_BYTES:
        raise UnsafeUpload(f"unpacks to over {MAX_UNPACKED_BYTES:,} bytes")
    files: dict[str, bytes] = {}
    total = 0
    for entry in entries:
        name = safe_name(entry.filename)
        if stat.S_ISLNK(entry.external_attr >> 16):
            raise UnsafeUpload(f"{entry.filename!r} is a link; links are not allowed")
        if entry.flag_bits & 0x1:
            raise UnsafeUpload(f"{entry.filename!r} is encrypted; upload it without a password")
        if entry.compress_type not in READABLE:
            raise UnsafeUpload(
                f"{entry.filename!r} uses compression method {entry.compress_type}; "
                "use deflate (what every zip tool writes by default)"
            )
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


def files_from_parts(parts: list[tuple[str, bytes]]) -> dict[str, bytes]:
    """The files of a multipart upload (filename, bytes), checked like a zip's. One zip part
    alone is the template's zip (what ``curl -F file=@template.zip`` and a browser's file
    picker send), unpacked as if it had been posted whole."""
    if len(parts) == 1 and parts[0][1][:4] == b"PK\x03\x04":
        return files_from_zip(parts[0][1])
    files: dict[str, bytes] = {}
    for filename, data in parts:
        files[safe_name(filename)] = data
        if len(files) > MAX_TEMPLATE_FILES:
            raise UnsafeUpload(f"over {MAX_TEMPLATE_FILES} files")
    return files


def files_from_svg(
    data: bytes, name: str, exists: bool, force: bool
) -> tuple[dict[str, bytes], importer.Found]:
    """A raw design-tool export (``mms-renderer import`` over HTTP): the SVG as it is and a
    manifest skeleton, as a template's files; a name in use is refused unless ``force``."""
    if not NAME.fullmatch(name):
        raise UnsafeUpload("?name= is the template's name: lowercase letters, digits, - or _")
    if exists and not force:
        raise importer.TemplateExists(f"a template named {name!r} exists; add &force=1")
    found = importer.inspect(data)
    manifest = importer.manifest(name, found).encode()
    return {"template.svg": data, MANIFEST_FILE: manifest}, found


def template_name(files: dict[str, bytes]) -> str:
    """The name the upload's manifest gives, after checking that its files can be a folder."""
    folders = {str(parent) for name in files for parent in PurePosixPath(name).parents}
    clash = sorted(folders & set(files))
    if clash:
        raise UnsafeUpload(f"{clash[0]!r} is both a file and a folder")
    manifest = files.get(MANIFEST_FILE)
    if manifest is None:
        raise UnsafeUpload("the upload has no manifest.toml at its top")
    if len(manifest) > MAX_MANIFEST_BYTES:
        raise UnsafeUpload(f"manifest.toml is over {MAX_MANIFEST_BYTES:,} bytes")
    try:
        name = tomllib.loads(manifest.decode("utf-8")).get("name")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        name = None
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise UnsafeUpload('manifest.toml needs name = "..." (lowercase letters, digits, - or _)')
    return name


def lint_upload(name: str, files: dict[str, bytes]) -> list[lint.Finding]:
    """Lint the upload as the folder ``name``, in a child process within the work budget."""
    with tempfile.TemporaryDirectory(prefix="mms-upload-") as scratch:
        folder = Path(scratch) / name
        for path, data in files.items():
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return lint_isolated(folder)


def safe_name(name: str) -> str:
    """A file's path inside the template folder; UnsafeUpload if it could leave it."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts or ":" in path.parts[0]:
        raise UnsafeUpload(f"{name!r} would be written outside the template's folder")
    if any(part.startswith(".") for part in path.parts):
        raise UnsafeUpload(f"{name!r}: hidden files are not allowed")
    if CONTROL.search(name) or len(name) > MAX_PATH_CHARS:
        raise UnsafeUpload(f"{name[:80]!r}: a file name of control characters or too long")
    return path.as_posix()
