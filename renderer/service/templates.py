"""The template routes: list and show, upload and delete, lint.

Uploads and deletes go to the template store (``store.py``), which every process follows;
lint runs in the render pool (503 with Retry-After when it is full, like a render), and an
upload's lint in a child process within the work budget.
"""

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from renderer.core import lint
from renderer.core.catalog import Template
from renderer.core.errors import UnknownTemplate
from renderer.core.limits import MAX_TEMPLATE_FILES
from renderer.service import upload
from renderer.service.http import BadRequest, authorize, error_response, limited, read_body
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
    who = authorize(request, service.settings.api_keys)
    found = None
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("image/svg+xml"):  # a raw export: the manifest is a skeleton
        body = bytes(await read_body(request, MAX_UPLOAD_BYTES, "the upload"))
        name, force = request.query_params.get("name", ""), "force" in request.query_params
        exists = name in service.catalog.templates
        files, found = await service.pool.run(
            lambda: upload.files_from_svg(body, name, exists, force)
        )
    elif content_type.startswith("multipart/form-data"):
        parts = await _parts(request)
        files = await service.pool.run(lambda: upload.files_from_parts(parts))
    else:
        body = await read_body(request, MAX_UPLOAD_BYTES, "the upload")
        files = await service.pool.run(lambda: upload.files_from_zip(body))
        del body
    name = upload.template_name(files)
    findings = await service.pool.run(lambda: upload.lint_upload(name, files))
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
    version = await service.store.publish(name, files, report, who)
    return JSONResponse({"template": name, "version": version, "lint": report}, status_code=201)


async def _parts(request: Request) -> list[tuple[str, bytes]]:
    """The file parts of a multipart body, counted while it streams in (chunked too)."""
    parser = MultiPartParser(
        request.headers,
        limited(request, MAX_UPLOAD_BYTES, "the upload"),
        max_files=MAX_TEMPLATE_FILES,
        max_fields=MAX_TEMPLATE_FILES,
        max_part_size=MAX_BODY_BYTES,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise BadRequest(f"not a readable multipart body: {exc.message}") from None
    try:
        return [
            (part.filename, await part.read())
            for _, part in form.multi_items()
            if isinstance(part, UploadFile) and part.filename
        ]
    finally:
        await form.close()


async def delete_template(request: Request) -> Response:
    service: Service = request.app.state.service
    authorize(request, service.settings.api_keys)
    name = request.path_params["name"]
    service.catalog.get(name)  # 404 for a name it does not serve
    if not await service.store.delete(name):  # deleted meanwhile, by another process
        raise UnknownTemplate(f"no template named {name!r}")
    return Response(status_code=204)


async def lint_template(request: Request) -> JSONResponse:
    """``GET /v1/templates/{name}/lint``: the lint report of the version served, made once
    per version (at upload, or on the first ask, in the render pool) and kept in the store."""
    service: Service = request.app.state.service
    template = service.catalog.get(request.path_params["name"])
    report = await service.store.lint_report(template)
    if report is None:
        report, _ = await service.lints.run(template.version, lambda: _lint(service, template))
    return JSONResponse({"template": template.name, "version": template.version, **report})


async def _lint(service: Service, template: Template) -> dict:
    report = lint.report(await service.pool.run(lambda: lint.lint(template)))
    await service.store.save_lint(template, report)
    return report
