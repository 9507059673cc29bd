"""The Jinja2 sandbox templates are filled in, with a work budget for every fill.

Jinja2's sandbox keeps a template away from Python internals, but not from working forever
or allocating gigabytes: four nested ``{% for %}`` loops, ``{{ 'x' * 300000000 }}``, a string
that doubles in a loop, ``{{ 9 ** 9 ** 9 }}``. Here every fill (and every compile, which
folds constants) has a budget: ``MAX_FILL_STEPS`` steps (a loop iteration, a call, a filter,
an operator) and ``MAX_FILL_UNITS`` units (the characters and items each operation reads and
makes). An operation whose result size is known before it runs (repetition, ``range``, a
join, ``replace``) is charged before it allocates; the rest are charged as soon as they
return, so no value ever grows past what is left of the budget. Lists, dicts and sets
cannot be changed in place (``ImmutableSandboxedEnvironment``), and the few filters and
string methods that pad to a width given as a number are not offered. The filled SVG is
counted while it is generated and stops at ``MAX_SVG_BYTES`` characters.

XML autoescape is forced on (Jinja2's default list does not include .svg: a merge value must
never add an element or an attribute) and undefined names are errors (StrictUndefined), so a
misspelt field fails instead of rendering "".
"""

import functools
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from jinja2 import StrictUndefined, Template, nodes
from jinja2.runtime import LoopContext, markup_join
from jinja2.sandbox import MAX_RANGE, ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from renderer.core.errors import TemplateError
from renderer.core.filters import FILTERS, TESTS
from renderer.core.limits import MAX_FILL_STEPS, MAX_FILL_UNITS, MAX_SVG_BYTES

MAX_INT_BITS = 4096  # numbers a template computes with
MAX_FORMAT_WIDTH = 1000  # "%10s": widths and precisions of printf-style formatting
# Padding to a width given as a number allocates before anything can be counted; random
# makes images that differ for the same URL.
REFUSED_FILTERS = {"center", "indent", "batch", "slice", "format", "random", "wordwrap"}
REFUSED_METHODS = {"center", "ljust", "rjust", "zfill", "expandtabs", "format", "format_map"}
PRINTF = re.compile(r"%[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")

_local = threading.local()


class OverBudget(TemplateError):
    """A fill that took more steps or made more than its budget allows."""


class Budget:
    def __init__(self) -> None:
        self.steps = MAX_FILL_STEPS
        self.units = MAX_FILL_UNITS

    def step(self, count: int = 1) -> None:
        self.steps -= count
        if self.steps < 0:
            raise OverBudget(
                f"filling the template takes over {MAX_FILL_STEPS:,} steps "
                "(loop iterations, calls, operators); simplify its loops"
            )

    def charge(self, units: int) -> None:
        self.units -= units
        if self.units < 0:
            raise OverBudget(
                f"filling the template makes over {MAX_FILL_UNITS:,} characters and items; "
                "it builds values that are far too large"
            )


@contextmanager
def budget() -> Iterator[Budget]:
    """Give the fills (and compiles) of this thread a fresh budget for the block."""
    outer = getattr(_local, "budget", None)
    _local.budget = Budget()
    try:
        yield _local.budget
    finally:
        _local.budget = outer


def _current() -> Budget:
    found = getattr(_local, "budget", None)
    if found is None:  # a filter called outside a fill (constant folding at parse time)
        raise OverBudget("template work outside a budget")
    return found


def size(value: Any) -> int:
    """What a value counts for: its characters or items, else 1."""
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset | range):
        return len(value)
    return 1


def _charged(function):
    """A filter that pays for what it reads and makes (keeping Jinja2's pass_* marker)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        spent = _current()
        spent.step()
        spent.charge(sum(map(size, args)) + sum(map(size, kwargs.values())))
        if function.__name__ == "do_replace" and len(args) >= 4:  # (eval_ctx, s, old, new)
            _charge_replace(args[1], args[2], args[3])
        elif function.__name__ == "do_join" and len(args) >= 2:  # (eval_ctx, items, d)
            _charge_join(args[1], args[2] if len(args) > 2 else kwargs.get("d", ""))
        result = function(*args, **kwargs)
        spent.charge(size(result))
        return result

    return wrapper


def _charge_replace(text: Any, old: Any, new: Any) -> None:
    """``replace`` can make len(text) x len(new) characters: charge them before it runs."""
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        found = text.count(old) if old else len(text) + 1
        _current().charge(found * len(new))


def _charge_join(items: Any, separator: Any) -> None:
    """A join makes the sum of its items (a list may hold one long string many times)."""
    if isinstance(items, list | tuple):
        _current().charge(sum(map(size, items)) + len(items) * size(separator))


class BoundedTemplate(Template):
    """A compiled template whose every rendering runs under a fresh budget."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        with budget():
            return super().render(*args, **kwargs)

    def generate(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        with budget():
            yield from super().generate(*args, **kwargs)


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with every loop, call, operator and output charged to the fill's budget."""

    template_class = BoundedTemplate
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals = {"range": self.range, "dict": dict, "namespace": self.globals["namespace"]}
        self.filters = {
            name: _charged(function)
            for name, function in {**self.filters, **FILTERS}.items()
            if name not in REFUSED_FILTERS
        }
        self.tests.update(TESTS)

    def parse(self, source: str, name: str | None = None, filename: str | None = None):
        """The template's syntax tree with its loops, ``~`` and outputs charged."""
        return _Charging().visit(super().parse(source, name, filename))

    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
        if isinstance(source, str):
            source = self.parse(source, name, filename)
        with budget():  # constant folding runs filters
            return super().compile(source, name, filename, raw, defer_init)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in REFUSED_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call(__self, __context, __obj, *args: Any, **kwargs: Any) -> Any:
        spent = _current()
        spent.step()
        if isinstance(__obj, LoopContext) and args:  # a recursive loop's next level
            args = (__self.iterate(args[0]), *args[1:])
        spent.charge(sum(map(size, args)) + sum(map(size, kwargs.values())))
        owner, method = getattr(__obj, "__self__", None), getattr(__obj, "__name__", "")
        if isinstance(owner, str) and method == "replace" and len(args) >= 2:
            _charge_replace(owner, args[0], args[1])
        elif isinstance(owner, str) and method == "join" and args:
            _charge_join(args[0], owner)
        result = super().call(__context, __obj, *args, **kwargs)
        spent.charge(size(result))
        return result

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        spent = _current()
        spent.step()
        spent.charge(size(left) + size(right))
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if _is_int(count) and isinstance(sequence, str | list | tuple):
                    spent.charge(size(sequence) * max(count, 0))
        elif operator == "**" and _is_int(left) and _is_int(right) and right > 0:
            if max(left.bit_length(), 1) * right > MAX_INT_BITS:
                raise OverBudget(f"{left} ** {right} is too large a number")
        elif operator == "%" and isinstance(left, str):
            _check_printf(left)
        result = super().call_binop(context, operator, left, right)
        if _is_int(result) and result.bit_length() > MAX_INT_BITS:
            raise OverBudget("a number the template computes is too large")
        spent.charge(size(result))
        return result

    def getitem(self, obj: Any, argument: Any) -> Any:
        result = super().getitem(obj, argument)
        _current().charge(size(result))
        return result

    def concat(self, parts: Iterable[str]) -> str:
        """Join captured output (``{% set %}`` blocks, macros), charged before joining."""
        parts = list(parts)
        _current().charge(sum(map(size, parts)))
        return "".join(parts)

    # Called through ``call`` (so charged for their arguments and results) from the tree
    # ``_Charging`` rewrites.
    def join(self, *parts: Any) -> str:
        """``a ~ b``."""
        return markup_join(parts)

    def output(self, value: Any) -> Any:
        """``{{ x }}``: escaping copies it."""
        return value

    def iterate(self, iterable: Any) -> Iterator[Any]:
        """A loop's items, a step each."""
        spent = _current()
        for item in iterable:
            spent.step()
            yield item

    def range(self, *args: int) -> range:
        numbers = range(*args)
        if len(numbers) > MAX_RANGE:
            raise OverBudget(f"range of {len(numbers):,} numbers; at most {MAX_RANGE:,}")
        return numbers


class _Charging(NodeTransformer):
    """Rewrites a template's tree so its loops, ``~`` and outputs go through ``call``."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = self.generic_visit(node)
        node.iter = _helper("iterate", node.iter)
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        node = self.generic_visit(node)
        node.nodes = [
            child if isinstance(child, nodes.TemplateData) else _helper("output", child)
            for child in node.nodes
        ]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = self.generic_visit(node)
        return _helper("join", *node.nodes)


def _helper(name: str, *arguments: nodes.Expr) -> nodes.Call:
    call = nodes.Call(nodes.EnvironmentAttribute(name), list(arguments), [], None, None)
    return call.set_lineno(arguments[0].lineno if arguments else 1)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_printf(text: str) -> None:
    for match in PRINTF.finditer(text):
        for number in match.groups():
            if number == "*" or (number and int(number) > MAX_FORMAT_WIDTH):
                raise OverBudget(f"format width {match.group(0)!r} is too wide")


def fill(template: Any, context: Mapping[str, Any]) -> str:
    """The template filled with ``context`` under a fresh budget, stopped as soon as its
    text is over ``MAX_SVG_BYTES`` characters."""
    pieces, length = [], 0
    for piece in template.generate(**context):
        length += len(piece)
        if length > MAX_SVG_BYTES:
            raise OverBudget(f"the filled SVG is over {MAX_SVG_BYTES:,} characters")
        pieces.append(piece)
    return "".join(pieces)


environment = BoundedEnvironment(
    autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
)
