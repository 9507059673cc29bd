"""The template routes: list and show, upload and delete, lint."""

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from renderer.core import lint
from renderer.core.limits import MAX_TEMPLATE_FILES
from renderer.service import upload
from renderer.service.http import authorize, error_response, read_body, refuse_declared_over
from renderer.service.limits import MAX_BODY_BYTES, MAX_UPLOAD_BYTES
from renderer.service.state import Service


async def list_templates(request: Request) -> JSONResponse:
    catalog = request.app.state.service.catalog
    return JSONResponse(
        {
            "templates": [t.summary() for t in catalog.templates.values()],
            "errors": [{"template": e.template, "error": str(e)} for e in catalog.errors],
        }
    )


async def show_template(request: Request) -> JSONResponse:
    catalog = request.app.state.service.catalog
    return JSONResponse(catalog.get(request.path_params["name"]).summary())


async def upload_template(request: Request) -> JSONResponse:
    """``POST /v1/templates``: a zip of a template folder (``application/zip``), its files as
    multipart form parts, or a raw design-tool export (``image/svg+xml`` with ``?name=``,
    ``&force=1`` to replace) given a manifest skeleton; stored only if lint finds no error.
    The answer is the lint (and, for an export, what it holds)."""
    service: Service = request.app.state.service
    authorize(request, service.settings.api_keys)
    found = None
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("image/svg+xml"):  # a raw export: the manifest is a skeleton
        body = await read_body(request, MAX_UPLOAD_BYTES, "the upload")
        name, force = request.query_params.get("name", ""), "force" in request.query_params
        files, found = await run_in_threadpool(
            upload.files_from_svg, service.catalog.folder, body, name, force
        )
    elif content_type.startswith("multipart/form-data"):
        refuse_declared_over(request, MAX_UPLOAD_BYTES, "the upload")
        form = await request.form(max_files=MAX_TEMPLATE_FILES, max_part_size=MAX_BODY_BYTES)
        files = {
            part.filename: await part.read()
            for _, part in form.multi_items()
            if hasattr(part, "filename") and part.filename
        }
    else:
        body = await read_body(request, MAX_UPLOAD_BYTES, "the upload")
        files = await run_in_threadpool(upload.files_from_zip, body)
    name, findings = await run_in_threadpool(upload.store, service.catalog.folder, files)
    report = lint.report(findings)
    if found is not None:
        report["found"] = found.lines()
    if report["errors"]:
        return error_response(
            422,
            "lint_failed",
            f"{name}: {report['errors']} lint errors; nothing was stored",
            lint=report,
        )
    template = await run_in_threadpool(service.catalog.reload, name)
    service.cache.forget_urls()
    return JSONResponse(
        {"template": name, "version": template.version, "lint": report}, status_code=201
    )


async def delete_template(request: Request) -> Response:
    service: Service = request.app.state.service
    authorize(request, service.settings.api_keys)
    await run_in_threadpool(service.catalog.remove, request.path_params["name"])
    service.cache.forget_urls()
    return Response(status_code=204)


async def lint_template(request: Request) -> JSONResponse:
    """``GET /v1/templates/{name}/lint``: the lint report of a loaded template."""
    template = request.app.state.service.catalog.get(request.path_params["name"])
    findings = await run_in_threadpool(lint.lint, template)
    return JSONResponse(
        {"template": template.name, "version": template.version, **lint.report(findings)}
    )
