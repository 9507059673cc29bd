"""The errors a user can cause, each with a message that names what to fix.

The CLI prints them as one line and exits 2. Each carries the HTTP status that fits it, so the
service answers it without a table of error types: a subclass says what kind of mistake it is.
"""

from dataclasses import dataclass


class RendererError(Exception):
    """Base of every error caused by a template, a value or a setting; never a bug of ours."""

    code = "renderer_error"
    status = 400


class TemplateError(RendererError):
    """A template that cannot be loaded or rendered safely."""

    code = "template_error"
    status = 422

    def __init__(self, message: str, template: str = "", file: str = "", line: int | None = None):
        self.message = message
        self.template = template
        self.file = file
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = "/".join(part for part in (self.template, self.file) if part)
        if where and self.line:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}" if where else self.message


class UnknownTemplate(RendererError):
    code = "unknown_template"
    status = 404


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class FieldErrors(RendererError):
    """Every problem with the values given for one render, reported together."""

    code = "invalid_fields"

    def __init__(self, problems: list[FieldProblem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class BudgetError(RendererError):
    """The image cannot be made to fit the byte budget, or the budget itself is not allowed."""

    code = "budget"


def line_of(text: str, needle: str) -> int | None:
    """The 1-based line of the first ``needle`` in ``text``, for an error to point at."""
    index = text.find(needle) if needle else -1
    return text.count("\n", 0, index) + 1 if index >= 0 else None
