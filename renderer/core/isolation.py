"""Lint an untrusted template in a child process that is stopped when it works too long.

An uploaded template is untrusted until lint has loaded, filled and drawn it. The guard's
draw cost and the fill's budget bound the work they know to be costly, in this process;
everything else (a CairoSVG or cairo path nobody priced) is bounded here, by the kernel: the
child may use ``WORK_CPU_SECONDS`` of CPU and ``WORK_MEMORY_BYTES`` of address space
(rlimits), and it is killed after ``WORK_WALL_SECONDS`` whatever it is doing. A template
that does not finish within that is refused with a ``cost`` finding, and nothing of its work
keeps running. A fresh interpreter costs about 0.4 s and the lint of a bundled template
0.1-0.3 s of CPU, so the budget leaves ten times that for a real template.

Run as ``python -m renderer.core.isolation FOLDER``: prints the findings as one JSON line.
"""

import json
import resource
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from renderer.core.limits import WORK_CPU_SECONDS, WORK_MEMORY_BYTES, WORK_WALL_SECONDS
from renderer.core.lint import Finding, lint_folder

MARK = "findings: "


def lint_isolated(folder: Path) -> list[Finding]:
    """``lint_folder(folder)``, run in a child process within the work budget."""
    command = [sys.executable, "-m", "renderer.core.isolation", str(folder)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=WORK_WALL_SECONDS)
    except subprocess.TimeoutExpired:  # run() has killed it
        return [_over(f"it was still working after {WORK_WALL_SECONDS:g} s")]
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    if done.returncode != 0 or not lines:
        return [_over(f"it used up its {WORK_CPU_SECONDS} s of CPU or its memory")]
    return [Finding(**finding) for finding in json.loads(lines[-1].removeprefix(MARK))]


def _over(why: str) -> Finding:
    return Finding(
        "error",
        "cost",
        f"loading, filling and drawing it takes more than its work budget ({why}; at most "
        f"{WORK_CPU_SECONDS} s of CPU and {WORK_MEMORY_BYTES // 1_000_000} MB): simplify it",
    )


def main(argv: list[str]) -> int:
    resource.setrlimit(resource.RLIMIT_CPU, (WORK_CPU_SECONDS, WORK_CPU_SECONDS + 1))
    resource.setrlimit(resource.RLIMIT_AS, (WORK_MEMORY_BYTES, WORK_MEMORY_BYTES))
    findings = lint_folder(Path(argv[0]))
    print(MARK + json.dumps([asdict(finding) for finding in findings]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
