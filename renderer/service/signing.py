"""Signed image URLs: HMAC-SHA256 over a canonical form of the path and query.

Canonical form (anyone can sign without our code; the README has a worked example):

1. Take every query parameter except ``sig``, including ``kid``, ``at`` and ``exp``.
2. Percent-encode each name and value as RFC 3986 does (UTF-8; only ``A-Z a-z 0-9 - _ . ~``
   stay as they are, a space is ``%20``).
3. Sort the pairs by name, then value, and join them as ``name=value`` with ``&``.
4. The message is the URL path, ``?``, and that string: ``/i/flash_sale.jpg?at=...&kid=k1``.
5. ``sig`` is the HMAC-SHA256 of the message under the secret of ``kid``, base64url without
   padding.

Several keys verify at once (``kid`` picks one), so a key rotates without breaking URLs
already sent. An optional signed ``exp`` (unix seconds) makes a URL expire: 410 after it.

A URL may spell its query in any order and encoding and still verify. The URLs ``sign``
makes are spelled canonically (the message's pairs, then ``sig``): only those are
remembered after a first fetch (``canonically_spelled``), so respelling one signed URL in
ways without end (``&&``, ``%41`` for ``A``, ``%FF`` that decodes to U+FFFD) never grows a
memo.
"""

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from urllib.parse import quote

from renderer.core.errors import RendererError
from renderer.core.fields import URL_PARAMETERS

RESERVED = URL_PARAMETERS  # no field may take these names (the manifest refuses them)


class SignatureError(RendererError):
    """Missing, unknown-key or wrong signature: 403, whatever the reason, to teach nothing."""

    code = "bad_signature"
    status = 403


class ExpiredURL(RendererError):
    code = "expired"
    status = 410


def canonical(path: str, params: Iterable[tuple[str, str]]) -> str:
    """The message that is signed: the path and the sorted, encoded query without ``sig``."""
    pairs = sorted((quote(k, safe=""), quote(v, safe="")) for k, v in params if k != "sig")
    return path + "?" + "&".join(f"{k}={v}" for k, v in pairs)


def signature(secret: bytes, message: str) -> str:
    digest = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Signer:
    """Signs with the first key, verifies with any of them."""

    def __init__(self, keys: Mapping[str, bytes]):
        if not keys:
            raise ValueError("at least one signing key is needed")
        self.keys = dict(keys)
        self.kid = next(iter(self.keys))

    def sign(self, path: str, params: Mapping[str, str]) -> str:
        """The signed query string for ``path`` with ``params`` (kid and sig added)."""
        pairs = [(k, str(v)) for k, v in params.items() if k not in ("kid", "sig")]
        pairs.append(("kid", self.kid))
        message = canonical(path, pairs)
        sig = signature(self.keys[self.kid], message)
        return message.partition("?")[2] + "&sig=" + sig

    def verify(self, path: str, params: list[tuple[str, str]], now: float | None = None) -> str:
        """The signed message (``canonical``); SignatureError or ExpiredURL unless the query is
        signed and current."""
        given = dict(params)
        sig, kid = given.get("sig"), given.get("kid")
        secret = self.keys.get(kid or "")
        if not sig or secret is None:
            raise SignatureError("missing or unknown signature")
        message = canonical(path, params)
        expected = signature(secret, message)
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            raise SignatureError("missing or unknown signature")
        if "exp" in given:
            try:
                expires = int(given["exp"])
            except ValueError:
                raise SignatureError("exp must be unix seconds") from None
            if (time.time() if now is None else now) >= expires:
                raise ExpiredURL("this URL has expired")
        return message


def canonically_spelled(url: str, message: str, params: list[tuple[str, str]]) -> bool:
    """Whether ``url`` (path and query, as received) is exactly ``message`` then ``&sig=``:
    the one spelling of its signed URL that ``sign`` makes."""
    sig = dict(params).get("sig", "")
    return url == f"{message}&sig={quote(sig, safe='')}"


def sign_url(
    base_url: str,
    template: str,
    format: str,
    fields: Mapping[str, str],
    *,
    kid: str,
    secret: str | bytes,
    at: int | None = None,
    exp: int | None = None,
    version: str | None = None,
) -> str:
    """A signed image URL, for Python senders: ``sign_url("https://img.example", "flash_sale",
    "jpg", {"first_name": "Ana"}, kid="k1", secret="...", at=1795000000)``. With ``version``
    (a template's version, from ``GET /v1/templates/{name}``) it renders that version for as
    long as the store keeps it and is cached as immutable; without, the current one."""
    path = f"/i/{template}.{format}"
    params = {k: str(v) for k, v in fields.items()}
    for name, value in (("at", at), ("exp", exp), ("v", version)):
        if value is not None:
            params[name] = str(value)
    key = secret.encode() if isinstance(secret, str) else secret
    return f"{base_url.rstrip('/')}{path}?{Signer({kid: key}).sign(path, params)}"
