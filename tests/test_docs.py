"""The README keeps up with the code (as Datasette's documentation tests do): its
configuration table names every variable the settings read, its routes table every route the
app serves, and its lint table every lint rule."""

import re
from collections.abc import Iterator, Mapping

from renderer.core.lint import RULES
from renderer.service.app import create_app
from renderer.settings import CampaignSettings, ServiceSettings

from .conftest import ROOT

README = (ROOT / "README.md").read_text()


def first_column(marker: str) -> list[str]:
    """The first cell of each row of the first table at or after ``marker``."""
    lines = README[README.index(marker) :].splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return [row.removeprefix("| ").split(" | ")[0].strip() for row in table[2:]]


class Recording(Mapping):
    """An empty environment that remembers what was asked of it."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        raise KeyError(key)

    def get(self, key: str, default=None):
        self.asked.add(key)
        return default

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def test_the_configuration_table_names_every_variable():
    environment = Recording()
    ServiceSettings.from_env(environment)
    CampaignSettings.from_env(environment)
    read = {name for name in environment.asked if name.startswith("RENDERER_")}
    documented = set()
    for cell in first_column("### Configuration"):
        documented |= set(re.findall(r"`(RENDERER_[A-Z_]+)`", cell))
    assert read == documented


def test_the_routes_table_names_every_route():
    served = set()
    for route in create_app().routes:
        methods = sorted(getattr(route, "methods", None) or {"GET"})
        path = route.path + ("/" if not hasattr(route, "methods") else "")
        served |= {(method, _shape(path)) for method in methods if method != "HEAD"}
    served.discard(("GET", "/studio"))  # the redirect to /studio/
    documented = set()
    for cell in first_column("| route | who | what |"):
        for entry in re.findall(r"`([A-Z, ]+) (/[^`?]*)", cell):
            methods, path = entry
            documented |= {(m.strip(), _shape(path)) for m in methods.split(",")}
    assert served == documented


def test_the_lint_table_names_every_rule():
    documented = set()
    for cell in first_column("| lint rule | what it finds |"):
        documented |= set(re.findall(r"`([a-z-]+)`", cell))
    assert documented == set(RULES)


def _shape(path: str) -> str:
    """``/i/{template}.{jpg,png,gif}`` and ``/i/{file}`` alike: placeholders as ``{}``."""
    return re.sub(r"\{[^}]*\}(\.\{[^}]*\})?", "{}", path)


def test_the_python_example_runs(tmp_path, monkeypatch):
    code = README.split("From Python", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    from PIL import Image

    with Image.open(tmp_path / "ana.jpg") as image:
        assert image.size == (1080, 1080)
