"""Live stock counts: set by the inventory feed, read by templates at render time."""

import io

import httpx
import pytest
from PIL import Image, ImageChops

from renderer.service.signing import sign_url

from .conftest import AUTH
from .test_http import AT, NEW, error

FIELDS = {"product_name": "Ethiopia Yirgacheffe", "sku": "NB-LIVE-1"}


def put(server, sku, body, headers=AUTH) -> httpx.Response:
    return httpx.put(f"{server.url}/v1/live/stock/{sku}", json=body, headers=headers)


def image_url(server, sku="NB-LIVE-1") -> str:
    return sign_url(
        server.url, "low_stock", "jpg", {**FIELDS, "sku": sku}, kid=NEW[0], secret=NEW[1], at=AT
    )


def stock_band(response: httpx.Response) -> Image.Image:
    image = Image.open(io.BytesIO(response.content)).convert("L")
    return image.crop((80, 1010, 1000, 1180))


def test_put_and_get(server):
    assert put(server, "SKU-A", {"count": 47}).json() == {"sku": "SKU-A", "count": 47}
    response = httpx.get(f"{server.url}/v1/live/stock/SKU-A", headers=AUTH)
    assert response.json() == {"sku": "SKU-A", "count": 47}
    error(httpx.get(f"{server.url}/v1/live/stock/NEVER-SET", headers=AUTH), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"count": -1}, "between 0 and 1,000,000,000"),
        ({"count": 10**12}, "between 0 and 1,000,000,000"),
        ({"count": 4.5}, "must be a whole number"),
        ({"count": "47"}, "must be a whole number"),
        ({"count": True}, "must be a whole number"),
        ({"stock": 4}, 'the body must be {"count": N}'),
        ([47], 'the body must be {"count": N}'),
    ],
)
def test_bad_counts_are_400(server, body, message):
    assert message in error(put(server, "SKU-A", body), 400, "bad_request")


def test_bad_sku_and_no_key(server):
    assert "is not a SKU" in error(put(server, "bad%20sku!", {"count": 1}), 400, "bad_request")
    error(put(server, "SKU-A", {"count": 1}, headers={}), 401, "unauthorized")


def test_render_reads_the_live_count(start_server):
    server = start_server()
    put(server, "NB-LIVE-1", {"count": 47})
    first = httpx.get(image_url(server))
    assert first.status_code == 200
    assert first.headers["cache-control"] == "public, max-age=60"
    put(server, "NB-LIVE-1", {"count": 3})
    second = httpx.get(image_url(server))
    assert second.headers["etag"] != first.headers["etag"], "a new count is a new image"
    assert ImageChops.difference(stock_band(first), stock_band(second)).getbbox() is not None
    put(server, "NB-LIVE-1", {"count": 47})
    again = httpx.get(image_url(server))
    assert again.headers["x-cache"] == "l1" and again.content == first.content


def test_sold_out_and_unknown_sku_states(start_server):
    server = start_server()
    put(server, "NB-ZERO", {"count": 0})
    put(server, "NB-SOME", {"count": 5})
    zero = stock_band(httpx.get(image_url(server, "NB-ZERO")))
    some = stock_band(httpx.get(image_url(server, "NB-SOME")))
    unknown = stock_band(httpx.get(image_url(server, "NB-UNKNOWN")))
    # sold out is a grey band; in stock and unknown are orange
    assert zero.getpixel((20, 20)) != some.getpixel((20, 20))
    assert unknown.getpixel((20, 20)) == some.getpixel((20, 20))
    assert ImageChops.difference(unknown, some).getbbox() is not None


def test_live_field_cannot_be_set_in_the_url(server):
    url = sign_url(
        server.url, "low_stock", "jpg", {**FIELDS, "stock": "5"}, kid=NEW[0], secret=NEW[1]
    )
    response = httpx.get(url)
    assert "stock: is live" in error(response, 400, "invalid_fields")
    assert response.json()["error"]["fields"][0]["field"] == "stock"
