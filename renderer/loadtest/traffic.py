"""What each request is: a unique render (a signed URL no cache holds), a hit (a repeat fetch
of an image already made, as a carrier fetches a prerendered URL) or a prerender batch
(``POST /v1/urls`` with ``"prerender": true``).

URLs are signed here with the deployment's key, in the canonical form the README documents,
exactly as the service signs them. Every image made (a render, or a batch's recipients) joins
the pool that hits are drawn from.
"""

import json
import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from renderer.loadtest.schedule import Arrival
from renderer.loadtest.values import Values
from renderer.service.signing import Signer


@dataclass
class Request:
    kind: str
    method: str
    url: str
    body: bytes | None = None
    headers: dict[str, str] | None = None
    template: str = ""


class Traffic:
    """Makes the request for each arrival and learns the URLs of the images made."""

    def __init__(
        self,
        base_url: str,
        templates: list[dict[str, Any]],
        values: dict[str, Values],
        signer: Signer,
        *,
        api_key: str,
        at: int,
        batch_size: int,
        rng: random.Random,
    ):
        self.base_url = base_url
        self.templates = templates
        self.values = values
        self.signer = signer
        self.api_key = api_key
        self.at = at
        self.batch_size = batch_size
        self.rng = rng
        self.pool: list[str] = []  # paths with signed queries of images already made
        self.recipients: list[tuple[str, dict[str, str]]] = []  # a campaign's, in send order
        self.turn = 0  # templates are taken in turn
        self.batches = 0  # a campaign's batches sent

    def make(self, arrival: Arrival) -> Request:
        if arrival.kind == "render":
            template = self._next_template()
            url = self.base_url + self.path(template)
            return Request("render", "GET", url, template=template["name"])
        if arrival.kind == "hit":
            if arrival.recipient is not None:
                name, values = self.recipients[arrival.recipient]
                url = self.base_url + self.path(self.templates[0], values)
                return Request("hit", "GET", url, template=name)
            return Request("hit", "GET", self.base_url + self.rng.choice(self.pool))
        return self._batch()

    def path(self, template: dict[str, Any], values: dict[str, str] | None = None) -> str:
        """The signed path and query of an image of ``template`` (fresh unique values unless
        given)."""
        if values is None:
            values = self.values[template["name"]].unique()
        path = f"/i/{template['name']}.{template['format']}"
        return f"{path}?{self.signer.sign(path, values | {'at': str(self.at)})}"

    def plan_campaign(self, recipients: int) -> None:
        """A campaign's recipients (of its one template), each with unique values."""
        name = self.templates[0]["name"]
        self.recipients = [(name, self.values[name].unique()) for _ in range(recipients)]

    def learn(self, request: Request, status: int, body: bytes) -> None:
        """Remember the images a successful request made, for later hits."""
        if not 200 <= status < 300:
            return
        if request.kind == "render":
            self.pool.append(request.url[len(self.base_url) :])
        elif request.kind == "batch":
            try:
                urls = json.loads(body)["urls"]
            except (ValueError, KeyError, TypeError):
                return
            for url in urls:
                if url:  # the deployment's public base may differ from ours: keep the path
                    parts = urlsplit(url)
                    self.pool.append(f"{parts.path}?{parts.query}")

    def _batch(self) -> Request:
        if self.recipients:  # a campaign (one template): its next batch of recipients
            start = self.batches * self.batch_size
            self.batches += 1
            name = self.templates[0]["name"]
            recipients = [values for _, values in self.recipients[start : start + self.batch_size]]
        else:
            name = self._next_template()["name"]
            recipients = [self.values[name].unique() for _ in range(self.batch_size)]
        body = {"template": name, "at": self.at, "prerender": True, "recipients": recipients}
        return Request(
            "batch",
            "POST",
            f"{self.base_url}/v1/urls",
            json.dumps(body).encode(),
            {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
            name,
        )

    def _next_template(self) -> dict[str, Any]:
        self.turn += 1
        return self.templates[(self.turn - 1) % len(self.templates)]
