"""The API's OpenAPI description, served at ``/openapi.json``.

Written out rather than generated: it is the contract with integrators, and a test checks
that every route of the app is in it and nothing else is.
"""

from typing import Any

from renderer.core import live
from renderer.core.limits import MAX_LIVE_VALUE

ERROR = {"$ref": "#/components/responses/Error"}
IMAGE = {
    "description": "The image, at or under its byte budget",
    "content": {"image/jpeg": {}, "image/png": {}, "image/gif": {}},
}
AUTH = [{"bearer": []}]
NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
VERSION = {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _json(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema or {"type": "object"}}},
    }


SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "mms-renderer",
        "version": "1",
        "description": "Personalized MMS images from SVG templates, always under the byte "
        "budget, at signed per-recipient URLs.",
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "responses": {
            "Error": _json(
                "An error",
                {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "fields": {"type": "array", "items": {"type": "object"}},
                            },
                        }
                    },
                },
            )
        },
    },
    "paths": {
        "/i/{file}": {
            "get": {
                "summary": "The signed image: /i/{template}.{jpg|png|gif}?fields&at&exp&kid&sig",
                "parameters": [
                    {"name": "file", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "kid", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "sig", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "at", "in": "query", "schema": {"type": "integer"}},
                    {"name": "exp", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": {
                    "200": IMAGE,
                    "304": {"description": "Not modified (If-None-Match)"},
                    "400": ERROR,
                    "403": ERROR,
                    "404": ERROR,
                    "410": ERROR,
                    "414": ERROR,
                    "503": ERROR,
                },
            }
        },
        "/v1/urls": {
            "post": {
                "summary": "Signed image URLs for a batch of recipients",
                "security": AUTH,
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["template", "recipients"],
                        "properties": {
                            "template": {"type": "string"},
                            "format": {"enum": ["jpg", "png", "gif"]},
                            "at": {"type": ["integer", "string"]},
                            "exp": {"type": "integer"},
                            "prerender": {"type": "boolean"},
                            "recipients": {
                                "type": "array",
                                "maxItems": 10000,
                                "items": {"type": "object"},
                            },
                        },
                    }
                ),
                "responses": {
                    "200": _json(
                        "URLs in recipient order (null where the recipient has errors)",
                        {
                            "type": "object",
                            "properties": {
                                "urls": {"type": "array", "items": {"type": ["string", "null"]}},
                                "errors": {"type": "array", "items": {"type": "object"}},
                                "prerendered": {"type": "integer"},
                            },
                        },
                    ),
                    "400": ERROR,
                    "401": ERROR,
                    "404": ERROR,
                    "413": ERROR,
                },
            }
        },
        "/v1/images": {
            "delete": {
                "summary": "Purge a signed image URL's image from the caches",
                "security": AUTH,
                "parameters": [
                    {"name": "url", "in": "query", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"204": {"description": "Purged"}, "401": ERROR, "403": ERROR},
            }
        },
        "/v1/webhooks/status": {
            "post": {
                "summary": "Delivery receipts (Twilio StatusCallback form, X-Twilio-Signature)",
                "responses": {"204": {"description": "Recorded"}, "403": ERROR, "503": ERROR},
            }
        },
        "/v1/webhooks/inbound": {
            "post": {
                "summary": "Inbound replies: STOP/START/HELP keywords; answers TwiML",
                "responses": {
                    "200": {"description": "TwiML", "content": {"application/xml": {}}},
                    "403": ERROR,
                    "503": ERROR,
                },
            }
        },
        "/c/{code}": {
            "get": {
                "summary": "A tracked link: counts the click, redirects with UTM parameters",
                "parameters": [
                    {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"302": {"description": "Redirect to the target"}, "404": ERROR},
            }
        },
        "/v1/templates": {
            "get": {
                "summary": "Every template: manifest, field schemas, version",
                "responses": {"200": _json("Templates, and the ones that failed to load")},
            },
            "post": {
                "summary": "Upload a template: a zip (application/zip) or its files (multipart);"
                " stored only when lint finds no error",
                "security": AUTH,
                "parameters": [
                    {
                        "name": "dry_run",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "store nothing: answer the would-be version and sample",
                    }
                ],
                "responses": {
                    "200": _json("Dry run: lint, version, replaces, sample (a data URL)"),
                    "201": _json("Stored: name, version, the version it replaces, lint report"),
                    "400": ERROR,
                    "401": ERROR,
                    "413": ERROR,
                    "422": ERROR,
                },
            },
        },
        "/v1/templates/{name}": {
            "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": {
                "summary": "One template",
                "responses": {"200": _json("The template"), "404": ERROR},
            },
            "delete": {
                "summary": "Delete a template",
                "security": AUTH,
                "responses": {"204": {"description": "Deleted"}, "401": ERROR, "404": ERROR},
            },
        },
        "/v1/templates/{name}/lint": {
            "get": {
                "summary": "The lint report: findings with severity, rule, message, where",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": _json("Lint report"), "404": ERROR},
            }
        },
        "/v1/templates/{name}/sample.jpg": {
            "get": {
                "summary": "The template rendered with its sample values (thumbnails)",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": IMAGE, "404": ERROR},
            }
        },
        "/studio": {
            "get": {
                "summary": "The studio web page for marketers",
                "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}},
            }
        },
        "/v1/templates/{name}/preview": {
            "post": {
                "summary": "Render any field values, with size and quality in X-Render-* headers",
                "security": AUTH,
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": _body(
                    {
                        "type": "object",
                        "properties": {
                            "fields": {"type": "object"},
                            "format": {"enum": ["jpg", "png", "gif"]},
                            "budget": {"type": ["string", "integer"]},
                            "at": {"type": ["integer", "string"]},
                            "version": {"type": "string"},
                        },
                    }
                ),
                "responses": {
                    "200": IMAGE,
                    "400": ERROR,
                    "401": ERROR,
                    "404": ERROR,
                    "410": ERROR,
                },
            }
        },
        "/v1/templates/{name}/versions": {
            "get": {
                "summary": "The kept versions, newest first: who, when, lint, files; the current",
                "security": AUTH,
                "parameters": [NAME],
                "responses": {"200": _json("Versions"), "401": ERROR, "404": ERROR},
            }
        },
        "/v1/templates/{name}/versions/{version}/restore": {
            "post": {
                "summary": "Roll back: serve a kept version again",
                "security": AUTH,
                "parameters": [NAME, VERSION],
                "responses": {"200": _json("Served"), "401": ERROR, "404": ERROR, "410": ERROR},
            }
        },
        "/v1/templates/{name}/versions/{version}": {
            "delete": {
                "summary": "Retire a kept version: its signed URLs answer 410",
                "security": AUTH,
                "parameters": [NAME, VERSION],
                "responses": {
                    "204": {"description": "Retired"},
                    "401": ERROR,
                    "409": ERROR,
                    "410": ERROR,
                },
            }
        },
        "/v1/test-sends": {
            "post": {
                "summary": "Send a test MMS through the provider, once compliance allows it",
                "security": AUTH,
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["to", "media_url", "consent"],
                        "properties": {
                            "to": {"type": "string"},
                            "media_url": {"type": "string"},
                            "body": {"type": "string", "maxLength": 1600},
                            "consent": {"const": True},
                        },
                    }
                ),
                "responses": {
                    "201": _json("The provider's answer: sid, status, provider"),
                    "400": ERROR,
                    "401": ERROR,
                    "409": ERROR,
                    "502": ERROR,
                    "503": ERROR,
                },
            }
        },
        "/v1/test-sends/{sid}": {
            "get": {
                "summary": "A test message's state and delivery receipts",
                "security": AUTH,
                "parameters": [
                    {"name": "sid", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": _json("State and receipts"), "401": ERROR, "404": ERROR},
            }
        },
        "/v1/live/{kind}/{key}": {
            "parameters": [
                {
                    "name": "kind",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": list(live.KINDS)},
                    "description": "the kind of live value (stock: keyed by SKU)",
                },
                {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "get": {
                "summary": "A live value: the stock count of a SKU",
                "security": AUTH,
                "responses": {"200": _json("The count"), "401": ERROR, "404": ERROR},
            },
            "put": {
                "summary": "Set a live value: the stock count of a SKU",
                "security": AUTH,
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["count"],
                        "properties": {
                            "count": {"type": "integer", "minimum": 0, "maximum": MAX_LIVE_VALUE}
                        },
                    }
                ),
                "responses": {"200": _json("The count"), "400": ERROR, "401": ERROR, "503": ERROR},
            },
        },
        "/healthz": {"get": {"summary": "Liveness", "responses": {"200": _json("ok")}}},
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "Prometheus text format"}},
            }
        },
        "/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": _json("OpenAPI 3.1")}}
        },
    },
}
