"""The version routes: a template's history, a roll-back, and retiring a version by hand.

Every upload is a version in the template store (``store.py``), kept with who stored it,
when, and its lint report. A roll-back makes a kept version current again everywhere; a
retired version keeps its record but not its files, so URLs signed for it answer 410.
"""

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from renderer.service.http import authorize
from renderer.service.state import Service


async def list_versions(request: Request) -> JSONResponse:
    """``GET /v1/templates/{name}/versions``: the kept versions, newest first, and which one
    is served (none once the template is deleted: a roll-back brings it back)."""
    service: Service = request.app.state.service
    authorize(request, service.settings.api_keys)
    name = request.path_params["name"]
    served = service.catalog.templates.get(name)
    versions = await service.store.versions(name)
    if served is None and not versions:
        service.catalog.get(name)  # the 404 that names the templates there are
    current = served.version if served else None
    return JSONResponse(
        {
            "template": name,
            "current": current,
            "versions": [
                {
                    "version": v["version"],
                    "current": v["version"] == current,
                    "stored_at": v["stored_at"],
                    "stored_by": v["stored_by"],
                    "lint": v["lint"],
                    "files": v["files"],
                }
                for v in versions
            ],
        }
    )


async def restore_version(request: Request) -> JSONResponse:
    """``POST /v1/templates/{name}/versions/{version}/restore``: serve a kept version again,
    everywhere (410 if it was retired)."""
    service: Service = request.app.state.service
    authorize(request, service.settings.api_keys)
    name, version = request.path_params["name"], request.path_params["version"]
    await service.store.restore(name, version)
    served = service.catalog.get(name)  # a version that no longer builds: broken, and why
    return JSONResponse({"template": name, "version": served.version})


async def retire_version(request: Request) -> Response:
    """``DELETE /v1/templates/{name}/versions/{version}``: drop a kept version's files (409
    for the one served); its signed URLs answer 410 from then on."""
    service: Service = request.app.state.service
    authorize(request, service.settings.api_keys)
    await service.store.retire(request.path_params["name"], request.path_params["version"])
    return Response(status_code=204)
