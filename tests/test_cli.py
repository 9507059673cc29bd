"""The CLI as a user runs it: a real process, real files, exit codes and one-line errors."""

import io
import json

import pytest
from PIL import Image

from .conftest import AT, run_cli


def test_render_writes_an_image_and_reports_it(tmp_path):
    out = tmp_path / "ana.jpg"
    done = run_cli(
        "render",
        "low_stock",
        "--set",
        "product_name=Ethiopia Yirgacheffe",
        "--set",
        "stock=12",
        "--out",
        str(out),
        "--budget",
        "450KB",
        "--at",
        AT,
    )
    assert done.returncode == 0, done.stderr
    image = Image.open(io.BytesIO(out.read_bytes()))
    assert image.size == (1080, 1350) and image.format == "JPEG"
    assert out.stat().st_size <= 450_000
    line = done.stdout.splitlines()[0]
    assert f"{out.stat().st_size:,} bytes" in line
    assert "q=" in line and "encodes" in line and " ms " in line


def test_render_png_and_the_filled_svg(tmp_path):
    out, svg = tmp_path / "x.png", tmp_path / "x.svg"
    done = run_cli(
        "render",
        "flash_sale",
        "--set",
        "first_name=Zoë",
        "--out",
        str(out),
        "--svg",
        str(svg),
        "--at",
        AT,
    )
    assert done.returncode == 0, done.stderr
    assert Image.open(out).format == "PNG"  # from the extension: no --format needed
    assert "Zoë, this one's for you" in svg.read_text()
    assert "Ends in 2d 19:00" in svg.read_text()  # ends_at default 2026-11-30T05:00Z


@pytest.mark.parametrize(
    ("name", "options", "decoded"),
    [
        ("x.gif", [], "GIF"),
        ("x.JPEG", [], "JPEG"),
        ("x.png", ["--format", "jpg"], "JPEG"),  # --format says otherwise
        ("x", [], "JPEG"),  # no extension: the template's format
    ],
)
def test_the_out_extension_picks_the_format(tmp_path, name, options, decoded):
    out = tmp_path / name
    done = run_cli("render", "flash_sale", "--set", "first_name=A", "--out", str(out), *options)
    assert done.returncode == 0, done.stderr
    assert Image.open(io.BytesIO(out.read_bytes())).format == decoded
    assert done.stdout.startswith(f"{out}: {decoded.lower().replace('jpeg', 'jpg')} ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["render", "nope", "--out", "x.jpg"], "no template named 'nope'"),
        (["render", "flash_sale", "--out", "x.jpg"], "first_name: is required"),
        (
            ["render", "flash_sale", "--set", "first_name", "--out", "x.jpg"],
            "write it as FIELD=VALUE",
        ),
        (
            [
                "render",
                "flash_sale",
                "--set",
                "first_name=A",
                "--set",
                "discount=ten",
                "--out",
                "x.jpg",
            ],
            "discount: must be a whole number; got 'ten'",
        ),
        (
            ["render", "flash_sale", "--set", "first_name=A", "--at", "soon", "--out", "x.jpg"],
            "--at 'soon'",
        ),
        (
            ["render", "flash_sale", "--set", "first_name=A", "--budget", "lots", "--out", "x.jpg"],
            "not a byte size",
        ),
        (
            [
                "render",
                "flash_sale",
                "--set",
                "first_name=A",
                "--budget",
                "900KB",
                "--out",
                "x.jpg",
            ],
            "hard cap",
        ),
        (
            ["render", "flash_sale", "--set", "first_name=A", "--budget", "2KB", "--out", "x.jpg"],
            "cannot fit",
        ),
        (
            ["render", "flash_sale", "--set", "first_name=A", "--format", "bmp", "--out", "x.jpg"],
            "format must be",
        ),
        (
            ["render", "flash_sale", "--set", "first_name=A", "--out", "x.bmp"],
            "'.bmp' is not .jpg, .jpeg, .png or .gif",
        ),
        (["templates", "--templates", "/nonexistent"], "does not exist"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, args, message):
    args = [str(tmp_path / a) if a in ("x.jpg", "x.bmp") else a for a in args]
    done = run_cli(*args)
    assert done.returncode == 2
    assert not list(tmp_path.iterdir())  # nothing written
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("mms-renderer: error: ") and message in lines[0]
    assert "Traceback" not in done.stderr


def test_templates_json_lists_every_template():
    done = run_cli("templates", "--json")
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    names = [t["name"] for t in listing["templates"]]
    assert names == [
        "countdown_gif",
        "flash_sale",
        "low_stock",
        "loyalty_badge",
        "product_loop",
        "product_reveal",
        "refer_friend",
    ]
    flash = listing["templates"][1]
    assert flash["width"] == 1080 and flash["budget"] == 500_000 and len(flash["version"]) == 16
    assert flash["fields"]["first_name"]["required"] is True
    assert listing["errors"] == []


def test_templates_folder_from_the_environment(tmp_path, make_template):
    folder = make_template('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"></svg>')
    done = run_cli("templates", env={"RENDERER_TEMPLATES": str(folder.parent)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("probe ")


def test_python_dash_m_and_console_script_agree():
    done = run_cli("--help")
    assert done.returncode == 0 and "render" in done.stdout and "templates" in done.stdout


def test_url_prints_a_signed_url_the_service_accepts(server):
    import httpx

    from .conftest import TEST_ENV

    done = run_cli(
        "url",
        "flash_sale",
        "--set",
        "first_name=Zoë",
        "--at",
        "1795000000",
        env={**TEST_ENV, "RENDERER_PUBLIC_URL": server.url},
    )
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert url.startswith(f"{server.url}/i/flash_sale.jpg?at=1795000000&first_name=Zo%C3%AB&kid=k2")
    assert httpx.get(url).status_code == 200


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["url", "nope"], {}, "no template named 'nope'"),
        (["url", "flash_sale", "--set", "first_name=A", "--set", "discount=1"], {}, "discount"),
        (["url", "flash_sale"], {"RENDERER_SIGNING_KEYS": "short:x"}, "RENDERER_SIGNING_KEYS must"),
        (["serve", "--port", "x"], {}, "invalid int value"),
        (["serve"], {"RENDERER_QUEUE_LIMIT": "lots"}, "RENDERER_QUEUE_LIMIT must be a number"),
    ],
)
def test_url_and_serve_bad_input(args, env, message):
    done = run_cli(*args, env=env)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
