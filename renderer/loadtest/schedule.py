"""When each request leaves: the arrival schedule, fixed before the run and independent of
how fast the server answers (an open loop).

A plan is a list of steps, each a rate held for some seconds with a mix of request kinds.
Kinds are interleaved by smooth weighted round robin, so every stretch of a step has the
configured shares, not just the whole. Arrivals are evenly spaced (as wrk2 sends) or Poisson
(independent arrivals, as many carriers' fetches are).
"""

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from renderer.core.errors import RendererError

KINDS = ("render", "hit", "batch")


@dataclass(frozen=True)
class Step:
    rate: float  # arrivals per second
    seconds: float
    mix: dict[str, float]  # kind -> weight
    label: str = ""


@dataclass(frozen=True)
class Arrival:
    at: float  # seconds from the start of the run
    kind: str
    step: int
    recipient: int | None = None  # a campaign's fetch: the recipient whose URL it fetches


@dataclass
class Plan:
    steps: list[Step]
    poisson: bool = False
    seed: int = 0
    campaign: int | None = None  # recipients of a campaign-shaped run
    batch_size: int = 100
    starts: list[float] = field(default_factory=list)  # default: one step after the other

    def __post_init__(self) -> None:
        if not self.starts:
            self.starts = [sum(s.seconds for s in self.steps[:i]) for i in range(len(self.steps))]

    @property
    def seconds(self) -> float:
        return sum(step.seconds for step in self.steps)

    def arrivals(self) -> Iterator[Arrival]:
        rng = random.Random(self.seed)
        fetched = 0
        for index, step in enumerate(self.steps):
            pick = _interleave(step.mix)
            start, offset = self.starts[index], 0.0
            count = 0
            while True:
                offset = offset + rng.expovariate(step.rate) if self.poisson else count / step.rate
                if offset >= step.seconds - 1e-9:
                    break
                kind = next(pick)
                recipient = None
                if self.campaign is not None and kind == "hit":
                    recipient, fetched = fetched, fetched + 1
                yield Arrival(start + offset, kind, index, recipient)
                count += 1


def constant(rates: list[float], seconds: float, mix: dict[str, float]) -> Plan:
    """One step per rate, each held ``seconds``."""
    return Plan([Step(rate, seconds, mix, f"{rate:g}/s") for rate in rates])


def campaign(recipients: int, batch_size: int, burst: float, window: float) -> Plan:
    """A campaign's shape: its recipients prerendered in ``POST /v1/urls`` batches spread over
    ``burst`` seconds, then the carrier fetching each recipient's URL once, spread evenly over
    the send ``window``."""
    batches = -(-recipients // batch_size)
    return Plan(
        [
            Step(batches / burst, burst, {"batch": 1}, "prerender burst"),
            Step(recipients / window, window, {"hit": 1}, "carrier fetches"),
        ],
        campaign=recipients,
        batch_size=batch_size,
    )


def _interleave(mix: dict[str, float]) -> Iterator[str]:
    """Smooth weighted round robin (as nginx balances upstreams): exact shares in every run
    of arrivals, no clumps."""
    current = dict.fromkeys(mix, 0.0)
    total = sum(mix.values())
    while True:
        for kind, weight in mix.items():
            current[kind] += weight
        chosen = max(current, key=current.__getitem__)
        current[chosen] -= total
        yield chosen


def parse_mix(text: str) -> dict[str, float]:
    """``render=20,hit=75,batch=5`` (shares of arrivals; a kind alone counts 1)."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, sep, weight = part.partition("=")
        kind = kind.strip()
        if kind not in KINDS:
            raise RendererError(f"--mix {text!r}: {kind!r} is not one of {', '.join(KINDS)}")
        try:
            mix[kind] = float(weight) if sep else 1.0
        except ValueError:
            raise RendererError(f"--mix {text!r}: {weight!r} is not a number") from None
        if not mix[kind] >= 0:
            raise RendererError(f"--mix {text!r}: a share cannot be negative")
    mix = {kind: weight for kind, weight in mix.items() if weight > 0}
    if not mix:
        raise RendererError(f"--mix {text!r}: give at least one kind a share above 0")
    return mix


def parse_seconds(text: str, flag: str) -> float:
    """``500ms``, ``10s``, ``2m``, ``1h`` or plain seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise RendererError(f"{flag} {text!r}: give a duration such as 500ms, 10s or 2m")
    unit = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[match.group(2)]
    return float(match.group(1)) * unit


def parse_rates(text: str) -> list[float]:
    """``50`` or ``10,20,40`` (requests per second; several are steps)."""
    rates = []
    for part in text.split(","):
        try:
            rate = float(part)
        except ValueError:
            raise RendererError(f"--rate {text!r}: give requests per second, such as 50") from None
        if not 0 < rate <= 100_000:
            raise RendererError(f"--rate {text!r}: each rate must be above 0 and at most 100000")
        rates.append(rate)
    return rates
