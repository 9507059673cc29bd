"""mms-renderer: personalized MMS images from SVG templates, always under the byte budget.

The few names a Python user needs::

    import renderer

    catalog = renderer.load_catalog()                    # the bundled templates, or a folder
    image = renderer.render_image(catalog, "flash_sale", {"first_name": "Ana"}, at=1795000000)
    open("ana.jpg", "wb").write(image.data)              # image.quality, image.width, ...
    url = renderer.sign_url("https://img.example.com", "flash_sale", "jpg",
                            {"first_name": "Ana"}, kid="k1", secret="...", at=1795000000)

Everything else is internal and may change.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Any

from renderer.core.errors import RendererError
from renderer.service.signing import sign_url

__version__ = "0.1.0"
__all__ = ["RendererError", "load_catalog", "render_image", "sign_url"]

if TYPE_CHECKING:
    from renderer.core.catalog import Catalog
    from renderer.core.encode import Encoded


def load_catalog(folder: str | Path | None = None) -> "Catalog":
    """Every template of ``folder`` (default: RENDERER_TEMPLATES, else the bundled ones)."""
    from renderer.core.catalog import Catalog
    from renderer.settings import templates_dir

    return Catalog(templates_dir(folder))


def render_image(
    catalog: "Catalog",
    template: str,
    values: dict[str, Any],
    *,
    format: str | None = None,
    budget: int | str | None = None,
    at: int | str | None = None,
) -> "Encoded":
    """One image: ``values`` as strings or numbers, ``at`` the pinned "now" (unix seconds or
    ISO 8601). FieldErrors, BudgetError or TemplateError (all RendererError) if it cannot."""
    from renderer.core.limits import parse_bytes
    from renderer.core.render import parse_at, plan, render

    job = plan(
        catalog.get(template),
        {name: str(value) for name, value in values.items()},
        format=format,
        budget=parse_bytes(budget) if budget is not None else None,
        at=parse_at(at) if at is not None else None,
    )
    return render(job).encoded
