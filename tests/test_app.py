"""The HTTP service under a real uvicorn on a free port, spoken to over real HTTP."""

import httpx


def test_healthz(server):
    response = httpx.get(f"{server}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "templates": 5}


def test_templates_listing_and_detail(server):
    listing = httpx.get(f"{server}/v1/templates").json()
    assert listing["templates"][0]["name"] == "flash_sale"
    detail = httpx.get(f"{server}/v1/templates/low_stock").json()
    assert detail["fields"]["stock"]["type"] == "int"
    assert (detail["width"], detail["height"]) == (1080, 1350)


def test_unknown_template_is_a_json_404(server):
    response = httpx.get(f"{server}/v1/templates/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_template"
    assert "no template named 'nope'" in response.json()["error"]["message"]


def test_unknown_route_is_a_json_404(server):
    response = httpx.get(f"{server}/nothing/here")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not Found"}}
