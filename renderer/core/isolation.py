"""Lint an untrusted template in a child process that is stopped when it works too long.

An uploaded template is untrusted until lint has loaded, filled and drawn it. The guard's
draw cost and the fill's budget bound the work they know to be costly, in this process;
everything else (a CairoSVG or cairo path nobody priced) is bounded here, by the kernel: the
child may use ``WORK_CPU_SECONDS`` of CPU and ``WORK_MEMORY_BYTES`` of address space
(rlimits), and it is killed after ``WORK_WALL_SECONDS`` whatever it is doing. A template
that does not finish within that is refused with a ``cost`` finding, and nothing of its work
keeps running. A fresh interpreter costs about 0.4 s and the lint of a bundled template
0.1-0.3 s of CPU, so the budget leaves ten times that for a real template. A child stopped
by the clock while it had used little CPU says nothing about the template (the machine was
busy): that is a 503.

Run as ``python -m renderer.core.isolation FOLDER``: prints the findings as one JSON line.
"""

import json
import os
import resource
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from renderer.core import fields
from renderer.core.catalog import load_template
from renderer.core.errors import RendererError, TemplateError
from renderer.core.limits import WORK_CPU_SECONDS, WORK_MEMORY_BYTES, WORK_WALL_SECONDS
from renderer.core.lint import LINT_AT, Finding, lint, not_loading
from renderer.core.render import plan, render

MARK = "findings: "


class TooBusy(RendererError):
    """The machine, not the template, kept the lint from finishing in time."""

    code = "busy"
    status = 503
    retry_after = 5


def lint_isolated(folder: Path) -> list[Finding]:
    """``lint_folder(folder)`` (and the animation drawn), in a child process within the work
    budget. TooBusy if it ran out of time while it had used little of its CPU: then the
    machine was too loaded to say anything about the template."""
    command = [sys.executable, "-m", "renderer.core.isolation", str(folder)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        output, _ = child.communicate(timeout=WORK_WALL_SECONDS)
    except subprocess.TimeoutExpired:
        used = _cpu_seconds(child.pid)
        child.kill()
        child.communicate()
        if used < WORK_CPU_SECONDS / 2:
            raise TooBusy("too busy to lint the template in time; retry shortly") from None
        return [_over(f"it was still working after {WORK_WALL_SECONDS:g} s")]
    lines = [line for line in output.splitlines() if line.startswith(MARK)]
    if child.returncode != 0 or not lines:
        return [_over(f"it used up its {WORK_CPU_SECONDS} s of CPU or its memory")]
    return [Finding(**finding) for finding in json.loads(lines[-1].removeprefix(MARK))]


def _cpu_seconds(pid: int) -> float:
    """The CPU time a running process has used (user + system), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float(WORK_CPU_SECONDS)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _over(why: str) -> Finding:
    return Finding(
        "error",
        "cost",
        f"loading, filling and drawing it takes more than its work budget ({why}; at most "
        f"{WORK_CPU_SECONDS} s of CPU and {WORK_MEMORY_BYTES // 1_000_000} MB): simplify it",
    )


def main(argv: list[str]) -> int:
    """Lint a folder within the limits; an animation is also drawn whole, every frame, since
    every GIF request will draw it so (the in-process lint only draws its first frame)."""
    resource.setrlimit(resource.RLIMIT_CPU, (WORK_CPU_SECONDS, WORK_CPU_SECONDS + 1))
    resource.setrlimit(resource.RLIMIT_AS, (WORK_MEMORY_BYTES, WORK_MEMORY_BYTES))
    try:
        template = load_template(Path(argv[0]))
        findings = lint(template)
        if template.animation is not None and not any(f.severity == "error" for f in findings):
            sample = fields.example_values(template.fields, "sample")
            render(plan(template, sample, format="gif", at=LINT_AT))
    except TemplateError as exc:
        findings = not_loading(Path(argv[0]), exc)
    except RendererError as exc:
        findings = [Finding("error", "render", f"the animation: {exc}")]
    print(MARK + json.dumps([asdict(finding) for finding in findings]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
