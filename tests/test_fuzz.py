"""Property-based fuzzing (Hypothesis) against a real server, and of the template loader.

The property, whatever is generated: a 2xx, 3xx, 4xx or 503 answer within a time bound,
every error a JSON ``{"error": {"code", "message"}}`` without a traceback; never a 500. The
loader either loads a template or raises TemplateError, never anything else. Example counts
are fixed so the run stays within about a minute.
"""

import contextlib
import io
import json
import random
import time
import zipfile
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.hostile import HEAD, data_uri, solid_png, use_bomb
from renderer.core.catalog import build_template
from renderer.core.errors import TemplateError
from renderer.core.manifest import parse_manifest

from .conftest import AUTH, MANIFEST, Server
from .test_http import AT, NEW
from .test_upload import template_files, zipped

ANSWER_WITHIN = 10.0  # seconds, for any request: uploads included (their lint is killed at 4)
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("fuzz") / "server.log")
    running.client = httpx.Client(base_url=running.url, timeout=ANSWER_WITHIN + 5)
    yield running
    running.client.close()
    running.stop()


def check(target, method: str, url: str, **request) -> httpx.Response:
    started = time.monotonic()
    response = target.client.request(method, url, **request)
    took = time.monotonic() - started
    assert took < ANSWER_WITHIN, f"{method} {url[:80]} took {took:.1f} s"
    assert response.status_code < 500 or response.status_code == 503, response.text[:300]
    if response.status_code >= 400 and method != "HEAD":  # a HEAD answer has no body
        body = response.json()["error"]
        assert isinstance(body["code"], str) and isinstance(body["message"], str)
        assert "Traceback" not in response.text
    return response


text = st.text(st.characters(codec="utf-8"), max_size=40)
segment = st.one_of(text, st.sampled_from(["flash_sale.jpg", "x.bmp", ".", "..", "%", "%FF"]))
PREFIXES = ["/i/", "/v1/templates/", "/v1/live/stock/", "/v1/images", "/studio/", "/c/", "/"]


@settings(FUZZ, max_examples=300)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"]),
    prefix=st.sampled_from(PREFIXES),
    segments=st.lists(segment, max_size=3),
    query=st.lists(st.tuples(text, text), max_size=6),
    raw=st.booleans(),
)
def test_fuzzed_urls(target, method, prefix, segments, query, raw):
    path = prefix + "/".join(quote(s, safe="" if raw else "/%") for s in segments)
    encode = (lambda s: quote(s, safe="=&%+")) if raw else (lambda s: quote(s, safe=""))
    string = "&".join(f"{encode(k)}={encode(v)}" for k, v in query)
    check(target, method, path + ("?" + string if string else ""), headers=AUTH)


RESPELLINGS = [
    lambda pairs, draw: [*pairs, ("", "")],
    lambda pairs, draw: pairs[::-1],
    lambda pairs, draw: [*pairs, *pairs[draw(st.integers(0, max(0, len(pairs) - 1))) :][:1]],
    lambda pairs, draw: [p for i, p in enumerate(pairs) if i != draw(st.integers(0, 9))],
    lambda pairs, draw: [(k, _q(draw(text))) if k == "first_name" else (k, v) for k, v in pairs],
    lambda pairs, draw: [(k.upper(), v) for k, v in pairs],
    lambda pairs, draw: [(k, v.lower()) for k, v in pairs],  # %C3%AB as %c3%ab
    lambda pairs, draw: [*pairs, (_q(draw(text)), _q(draw(text)))],
]


def _q(value: str) -> str:
    return quote(value, safe="")


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_fuzzed_signed_query_strings(target, data):
    url = target.client.base_url.join(
        "/i/flash_sale.jpg?" + _signed_query({"first_name": data.draw(text) or "Ana"})
    )
    pairs = [tuple(p.split("=", 1)) for p in url.query.decode().split("&")]
    for _ in range(data.draw(st.integers(0, 3))):
        pairs = data.draw(st.sampled_from(RESPELLINGS))(pairs, data.draw)
    separator = data.draw(st.sampled_from(["&", "&&", ";"]))
    query = separator.join(f"{k}={v}" for k, v in pairs)
    response = check(target, "GET", f"/i/flash_sale.jpg?{query}")
    assert response.status_code in (200, 400, 403, 404, 410, 414), response.text[:200]


def _signed_query(fields: dict[str, str]) -> str:
    from renderer.service.signing import sign_url

    url = sign_url("http://x", "flash_sale", "jpg", fields, kid=NEW[0], secret=NEW[1], at=AT)
    return url.split("?", 1)[1]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
FIELD_VALUES = st.dictionaries(
    st.sampled_from(["first_name", "discount", "code", "ends_at", "x"]), json_values, max_size=5
)
BODIES = {
    "/v1/urls": st.fixed_dictionaries(
        {},
        optional={
            "template": st.sampled_from(["flash_sale", "low_stock", "nope"]) | json_values,
            "recipients": st.lists(FIELD_VALUES, max_size=4) | json_values,
            "format": st.sampled_from(["jpg", "png", "bmp"]) | json_values,
            "at": json_values,
            "exp": json_values,
            "prerender": st.booleans(),
        },
    ),
    "/v1/templates/flash_sale/preview": st.fixed_dictionaries(
        {},
        optional={
            "fields": FIELD_VALUES | json_values,
            "format": st.sampled_from(["jpg", "png", "gif"]) | json_values,
            "budget": st.sampled_from(["450KB", "1", "700KB"]) | json_values,
            "at": json_values,
        },
    ),
    "/v1/live/stock/SKU-1": st.fixed_dictionaries({"count": json_values}) | json_values,
}


@settings(FUZZ, max_examples=300)
@given(route=st.sampled_from(list(BODIES)), data=st.data())
def test_fuzzed_json_bodies(target, route, data):
    body = data.draw(BODIES[route])
    method = "PUT" if route.startswith("/v1/live") else "POST"
    check(target, method, route, content=json.dumps(body), headers=AUTH)  # NaN, Infinity too


toml_value = st.recursive(
    st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)
MANIFEST_KEYS = ["width", "height", "format", "budget", "description", "animation", "fields"]


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # JSON's escapes are TOML's (astral characters aside)
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    return str(value)


@st.composite
def manifests(draw) -> str:
    lines = ['name = "fuzzed"']
    for key in draw(st.lists(st.sampled_from(MANIFEST_KEYS), unique=True)):
        if key in ("animation", "fields"):
            table = "fields.first_name" if key == "fields" else "animation"
            lines.append(f"[{table}]")
            names = ["kind", "frames", "durations", "ends_at", "type", "sample", "max_length"]
            for name in draw(st.lists(st.sampled_from(names), unique=True, max_size=4)):
                lines.append(f"{name} = {_toml(draw(toml_value))}")
        else:
            lines.insert(1, f"{key} = {_toml(draw(toml_value))}")
    return "\n".join(lines) + "\n"


@settings(FUZZ, max_examples=600)
@given(manifest=manifests())
def test_fuzzed_manifests_load_or_say_why(manifest):
    with contextlib.suppress(TemplateError):
        parse_manifest(manifest, "fuzzed")


@settings(FUZZ, max_examples=8)
@given(manifest=manifests())
def test_fuzzed_manifests_over_http(target, manifest):
    files = {"template.svg": template_files("fuzzed")["template.svg"], "manifest.toml": manifest}
    response = check(target, "POST", "/v1/templates", content=zipped(files), headers=_zip_auth())
    assert response.status_code in (201, 400, 422, 503)


def _zip_auth() -> dict[str, str]:
    return {**AUTH, "Content-Type": "application/zip"}


@settings(FUZZ, max_examples=60)
@given(seed=st.integers(0, 2**32), flips=st.integers(1, 8), cut=st.booleans())
def test_fuzzed_zip_files(target, seed, flips, cut):
    data = bytearray(zipped(template_files("zipped")))
    rng = random.Random(seed)
    for _ in range(flips):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    if cut:
        data = data[: rng.randrange(len(data))]
    response = check(target, "POST", "/v1/templates", content=bytes(data), headers=_zip_auth())
    assert response.status_code in (201, 400, 422, 503)


SNIPPETS = [
    '<use href="#a"/>',
    '<g id="a"><use href="#b"/><use href="#b"/></g><g id="b"><use href="#a"/></g>',
    '<pattern id="p"><rect width="1" height="1" fill="url(#p)"/></pattern>',
    '<rect width="9" height="9" fill="url(#p)" mask="url(#m)" clip-path="url(#c)"/>',
    '<path d="M0 0 L1 1 L2 2 L3 3" marker-mid="url(#m)"/><marker id="m"><circle r="1"/></marker>',
    '<text x="0" y="20">{{ first_name * 100000 }}</text>',
    "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
    "{{ 9 ** 9 ** 9 }}",
    '{{ "%99999999s" % 1 }}',
    "{{ first_name.center(999999999) }}",
    '<image href="file:///etc/passwd"/>',
    '<image href="../x.png"/>',
    "<style>@import url(x.css); * { fill: url(#p) }</style>",
    '<text x="0" y="9">' + "w" * 40_000 + "</text>",
    f'<image href="{data_uri("image/svg+xml", use_bomb(8).encode())}"/>',
    f'<image href="{data_uri("image/png", solid_png(9000, 9000))}"/>',
    '<image href="data:text/html,x"/>',
    "<!DOCTYPE x>",
    "</svg><svg>",
    "{{",
    "{% if %}",
    '<svg width="99999" height="1"/>',
    "\x00",
]


@settings(FUZZ, max_examples=300)
@given(
    picks=st.lists(st.sampled_from(SNIPPETS), min_size=1, max_size=4),
    at=st.lists(st.floats(0, 1), min_size=4, max_size=4),
)
def test_fuzzed_svg_mutations_load_or_say_why_in_time(picks, at):
    svg = HEAD + '<text x="10" y="40" data-fit-width="380">{{ first_name }}</text></svg>'
    for snippet, where in zip(picks, at, strict=False):  # between elements, mostly
        ends = [i + 1 for i, c in enumerate(svg) if c == ">"][:-1] or [len(svg)]
        index = ends[int(where * (len(ends) - 1))]
        svg = svg[:index] + snippet + svg[index:]
    files = {
        "template.svg": svg.encode(),
        "manifest.toml": MANIFEST.format(name="fuzzed", width=400, height=400).encode(),
    }
    started = time.monotonic()
    with contextlib.suppress(TemplateError):
        build_template("fuzzed", files, Path("/nowhere/fuzzed"))
    assert time.monotonic() - started < ANSWER_WITHIN


def test_a_fuzzed_upload_of_a_mutated_svg_is_answered(target):
    """One mutated SVG end to end (the loader's fuzzing above covers the variety)."""
    svg = HEAD + "".join(SNIPPETS[:6]) + "</svg>"
    files = {"template.svg": svg, "manifest.toml": MANIFEST.format(name="mut", width=4, height=4)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    response = check(
        target, "POST", "/v1/templates", content=buffer.getvalue(), headers=_zip_auth()
    )
    assert response.status_code == 422
