"""Recipients' images, from the render service over HTTP (the campaigns' only way to it).

``ImageURLs.pinned`` asks ``POST /v1/urls`` for signed URLs pinned at one moment, with
``prerender`` so that the provider's fetch is a cache hit: one request per template for a
handful of recipients about to be sent, so that a countdown shows the time of the actual send.
"""

import json
from collections.abc import Iterable
from datetime import datetime

import httpx

from renderer.orchestrator import links
from renderer.orchestrator.campaign import Campaign


class RenderServiceDown(Exception):
    """The render service cannot give image URLs now: the jobs wait, nobody is skipped."""


class ImageURLs:
    def __init__(self, render_url: str, api_key: str, public_url: str, link_key: bytes):
        self.render_url, self.api_key = render_url, api_key
        self.public_url, self.link_key = public_url, link_key
        self.http = httpx.Client(timeout=120)
        self.template_fields: dict[str, dict[str, str]] = {}

    def pinned(
        self, campaign: Campaign, recipients: Iterable[tuple[str, dict]], at: datetime
    ) -> dict[str, str | Exception]:
        """Signed image URLs pinned at ``at``, by recipient key; an Exception for a recipient
        whose values the template refuses. RenderServiceDown if the service is unreachable."""
        out: dict[str, str | Exception] = {}
        by_template: dict[str, list] = {}
        for key, record in recipients:
            variant = next(v for v in campaign.variants if v.name == record["variant"])
            by_template.setdefault(variant.template, []).append((key, record, variant))
        try:
            for template, group in by_template.items():
                out.update(self._batch(campaign, template, group, at))
        except httpx.HTTPError as exc:
            raise RenderServiceDown(f"the render service at {self.render_url}: {exc}") from None
        return out

    def _batch(self, campaign, template, group, at) -> dict[str, str | Exception]:
        fields = self._fields(template)
        values = []
        for _, record, variant in group:
            row = json.loads(record.get("values") or "{}")
            chosen = {k: v for k, v in row.items() if k in fields and fields[k] != "live"}
            for name, kind in fields.items():
                if kind == "qr" and campaign.qr_link:
                    index = campaign.links.index(campaign.qr_link)
                    chosen[name] = f"{self.public_url}/c/" + links.link_code(
                        self.link_key, campaign.id, variant.name, index
                    )
            values.append(chosen)
        response = self.http.post(
            f"{self.render_url}/v1/urls",
            headers={"Authorization": f"Bearer {self.api_key}"},
            json={
                "template": template,
                "format": campaign.format,
                "at": int(at.timestamp()),
                "prerender": True,
                "recipients": values,
            },
        )
        if response.status_code >= 500:
            raise RenderServiceDown(f"the render service answered {response.status_code}")
        if response.status_code != 200:
            failure = RuntimeError(f"render service answered {response.status_code}")
            return dict.fromkeys((key for key, _, _ in group), failure)
        answer = response.json()
        problems: dict[int, list[str]] = {}
        for error in answer["errors"]:
            problems.setdefault(error["index"], []).append(
                f"{error.get('field') or 'image'}: {error['message']}"
            )
        out: dict[str, str | Exception] = {}
        for index, (key, _, _) in enumerate(group):
            url = answer["urls"][index]
            out[key] = (
                url
                if url and index not in problems
                else ValueError("; ".join(problems.get(index, ["no URL"])))
            )
        return out

    def _fields(self, template: str) -> dict[str, str]:
        """The template's fields and their kinds, from the render service (cached)."""
        if template not in self.template_fields:
            response = self.http.get(f"{self.render_url}/v1/templates/{template}")
            if response.status_code >= 500:
                raise RenderServiceDown(f"the render service answered {response.status_code}")
            summary = response.json()
            self.template_fields[template] = {
                name: "live" if spec.get("live") else spec["type"]
                for name, spec in summary.get("fields", {}).items()
            }
        return self.template_fields[template]

    def close(self) -> None:
        self.http.close()
