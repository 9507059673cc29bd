"""Put the fonts that ``fonts.toml`` lists into this folder, byte for byte the same everywhere.

Each package is downloaded from Debian's archive at its pinned version (``apt-get download``:
the package is not installed, and nothing on the system changes), the listed files are taken
out of it, and every file's SHA-256 is checked against ``fonts.toml``. Files already present
with the right hash are left alone, so a second run costs a few hashes. ``make`` runs this.

Usage: python3 fonts/fetch.py [--check]   (--check: verify only, download nothing)
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def missing(files: dict[str, str]) -> list[str]:
    """The files not present here with their expected hash."""
    return [
        name
        for name, expected in files.items()
        if not (HERE / name).is_file() or sha256(HERE / name) != expected
    ]


def download(package: str, version: str, into: Path) -> Path:
    """The package's .deb at exactly ``version``, downloaded into ``into``."""
    command = ["apt-get", "download", "-q", f"{package}={version}"]
    for attempt in range(2):
        done = subprocess.run(command, cwd=into, capture_output=True, text=True)
        if done.returncode == 0:
            return next(into.glob(f"{package}_*.deb"))
        if attempt == 0 and os.geteuid() == 0:  # the package lists may be stale or absent
            subprocess.run(["apt-get", "update", "-qq"], check=False)
    sys.exit(
        f"fonts: could not download {package}={version} from Debian's archive:\n"
        f"{done.stderr.strip()}\nThe fonts are pinned to Debian 12 (bookworm)'s packages."
    )


def fetch(package: str, spec: dict) -> None:
    wanted = {name: spec["files"][name] for name in missing(spec["files"])}
    if not wanted:
        return
    print(f"fonts: {package} {spec['version']}: {len(wanted)} files")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        os.chmod(scratch, 0o777)  # apt-get download drops to the _apt user to write
        deb = download(package, spec["version"], scratch)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(scratch / "root")], check=True)
        for name, expected in wanted.items():
            source = scratch / "root" / spec["folder"] / name
            if not source.is_file():
                sys.exit(f"fonts: {package} {spec['version']} has no {spec['folder']}/{name}")
            if sha256(source) != expected:
                sys.exit(f"fonts: {name} from {package} does not have the SHA-256 in fonts.toml")
            shutil.copyfile(source, HERE / name)


def main(argv: list[str]) -> int:
    packages = tomllib.loads((HERE / "fonts.toml").read_text())["packages"]
    if "--check" in argv:
        bad = [name for spec in packages.values() for name in missing(spec["files"])]
        for name in bad:
            print(f"fonts: {name} is missing or differs from fonts.toml")
        return 1 if bad else 0
    for package, spec in packages.items():
        fetch(package, spec)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
