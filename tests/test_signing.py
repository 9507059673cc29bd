"""The URL signature: canonical form, constant-time check, rotation, expiry, README example."""

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from renderer.service.signing import (
    ExpiredURL,
    SignatureError,
    Signer,
    canonical,
    sign_url,
    signature,
)

README = Path(__file__).resolve().parent.parent / "README.md"
OLD, NEW = {"k1": b"first-secret-0123456789"}, {"k2": b"second-secret-0123456789"}


def split(url: str) -> tuple[str, list[tuple[str, str]]]:
    parts = urlsplit(url)
    return parts.path, parse_qsl(parts.query, keep_blank_values=True)


def test_canonical_form_sorts_and_encodes():
    message = canonical(
        "/i/x.jpg", [("sig", "zzz"), ("name", "Zoë Ann&co"), ("at", "1"), ("a", "b/c+d")]
    )
    assert message == "/i/x.jpg?a=b%2Fc%2Bd&at=1&name=Zo%C3%AB%20Ann%26co"


def test_the_readme_example_verifies():
    text = README.read_text()
    secret = re.search(r"^secret:\s+(\S+)", text, re.M).group(1)
    message = re.search(r"^message:\s+(\S+)", text, re.M).group(1)
    sig = re.search(r"^sig:\s+(\S+)", text, re.M).group(1)
    url = re.search(r"^URL:\s+(\S+)", text, re.M).group(1)
    assert signature(secret.encode(), message) == sig
    path, params = split(url)
    assert canonical(path, params) == message
    Signer({"k1": secret.encode()}).verify(path, params)


def test_sign_url_round_trip():
    url = sign_url(
        "http://h",
        "flash_sale",
        "jpg",
        {"first_name": "Ана"},
        kid="k2",
        secret=NEW["k2"],
        at=1795000000,
    )
    path, params = split(url)
    Signer(NEW | OLD).verify(path, params)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: [(k, "Eve" if k == "first_name" else v) for k, v in p],
        lambda p: [*p, ("discount", "90")],
        lambda p: [(k, v) for k, v in p if k != "at"],
        lambda p: [(k, v[:-1] + ("A" if v[-1] != "A" else "B") if k == "sig" else v) for k, v in p],
        lambda p: [(k, v) for k, v in p if k != "sig"],
        lambda p: [(k, "nope" if k == "kid" else v) for k, v in p],
    ],
)
def test_tampered_urls_are_refused(tamper):
    path, params = split(
        sign_url(
            "http://h",
            "flash_sale",
            "jpg",
            {"first_name": "Ana"},
            kid="k2",
            secret=NEW["k2"],
            at=1795000000,
        )
    )
    with pytest.raises(SignatureError):
        Signer(NEW).verify(path, tamper(params))


def test_other_path_is_refused():
    path, params = split(sign_url("http://h", "flash_sale", "jpg", {}, kid="k2", secret=NEW["k2"]))
    with pytest.raises(SignatureError):
        Signer(NEW).verify(path.replace(".jpg", ".png"), params)


def test_rotation_old_key_verifies_while_configured():
    path, params = split(sign_url("http://h", "t", "jpg", {}, kid="k1", secret=OLD["k1"]))
    Signer(NEW | OLD).verify(path, params)
    with pytest.raises(SignatureError):
        Signer(NEW).verify(path, params)
    assert Signer(NEW | OLD).kid == "k2", "the first key signs"


def test_expiry():
    path, params = split(sign_url("http://h", "t", "jpg", {}, kid="k2", secret=NEW["k2"], exp=1000))
    Signer(NEW).verify(path, params, now=999)
    with pytest.raises(ExpiredURL):
        Signer(NEW).verify(path, params, now=1000)
