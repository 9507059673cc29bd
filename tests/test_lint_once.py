"""Lint lists every finding in one pass, also for a template that does not load: each
undeclared field, each refused reference, and what the values do once those are set aside
(overflow), each with its line; the same in the upload's isolated lint."""

from renderer.core import lint
from renderer.core.isolation import lint_isolated

from .conftest import run_cli

SVG = """<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
 width="400" height="400">
<rect width="400" height="400" fill="#123" style="fill: url(https://cdn.example.com/p.svg)"/>
<image href="https://cdn.example.com/photo.jpg" width="400" height="200"/>
<image xlink:href="../secret.png" width="10" height="10"/>
<text id="hello" x="20" y="300" font-family="Inter" font-size="48" fill="#fff"
 >Hi {{ first_name }}, {{ surname }} {% if vip %}VIP{% endif %}</text>
</svg>"""


def check(findings: list[lint.Finding]) -> None:
    where = {(f.rule, f.message.split(" ")[0], f.line) for f in findings}
    assert ("undeclared-field", "{{", 7) in where  # surname
    undeclared = sorted(f.message for f in findings if f.rule == "undeclared-field")
    assert undeclared == ["{{ surname }} is used but not in the manifest",
                          "{{ vip }} is used but not in the manifest"]  # fmt: skip
    external = sorted(f.line for f in findings if f.rule == "external-reference")
    assert external == [3, 4]  # the fill's url() and the image
    assert [f.line for f in findings if f.rule == "outside-folder"] == [5]
    overflow = [f for f in findings if f.rule == "overflow"]
    assert overflow and overflow[0].element == "hello" and overflow[0].box[0] == 20
    assert not [f for f in findings if f.rule == "load"], findings  # nothing left unexplained


def test_a_template_that_does_not_load_gets_every_finding_at_once(make_template):
    check(lint.lint_folder(make_template(SVG)))


def test_the_upload_lint_lists_them_too(make_template):
    check(lint_isolated(make_template(SVG)))


def test_the_cli_prints_them_with_their_lines(make_template):
    done = run_cli("lint", str(make_template(SVG)))
    assert done.returncode == 1
    assert "{{ surname }} is used but not in the manifest (template.svg, line 7)" in done.stdout
    assert "'../secret.png' leaves the template folder (template.svg, line 5)" in done.stdout


def test_a_broken_manifest_is_still_one_clear_finding(make_template):
    folder = make_template(SVG, manifest='name = "probe"\nwidth = "wide"\n')
    findings = lint.lint_folder(folder)
    assert len(findings) == 1 and findings[0].severity == "error"
    assert "width" in findings[0].message
