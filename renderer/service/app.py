"""The HTTP service (Starlette): its routes, middleware and error handlers, assembled.

Read a route's function, in the module its group is named for, to follow a request down:
``images`` (the signed image, batch URLs, purge, preview), ``templates``, ``live``, ``ops``;
``state.Service`` is what they share. The campaigns' routes (provider webhooks, tracked
links, the studio's test messages) come from ``renderer.orchestrator.router``: the one place
the service meets them; it hands them ``authorize`` for the routes that need an API key.
"""

from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route

from renderer.orchestrator.router import CampaignRoutes
from renderer.service import images, live, ops, studio, templates, versions
from renderer.service.accesslog import AccessLog
from renderer.service.http import EXCEPTION_HANDLERS, authorize
from renderer.service.state import Service
from renderer.settings import CampaignSettings, ServiceSettings


def create_app(
    settings: ServiceSettings | None = None, campaign_settings: CampaignSettings | None = None
) -> Starlette:
    """The service; with no arguments, configured from ``RENDERER_*`` variables."""
    service = Service(settings or ServiceSettings.from_env())
    campaign_settings = campaign_settings or CampaignSettings.from_env()
    if service.settings.development_keys:  # a development service tests with the sandbox
        campaign_settings = campaign_settings.or_sandbox()
    campaigns = CampaignRoutes(
        campaign_settings, lambda request: authorize(request, service.settings.api_keys)
    )

    @asynccontextmanager
    async def lifespan(app: Starlette):
        async with service.lifespan(app):
            yield
        campaigns.close()

    image_route = Route("/i/{file}", images.image)
    return Starlette(
        routes=[
            image_route,
            Route("/v1/urls", images.create_urls, methods=["POST"]),
            Route("/v1/images", images.purge_image, methods=["DELETE"]),
            Route("/v1/templates", templates.list_templates),
            Route("/v1/templates", templates.upload_template, methods=["POST"]),
            Route("/v1/templates/{name}", templates.show_template),
            Route("/v1/templates/{name}", templates.delete_template, methods=["DELETE"]),
            Route("/v1/templates/{name}/lint", templates.lint_template),
            Route("/v1/templates/{name}/versions", versions.list_versions),
            Route(
                "/v1/templates/{name}/versions/{version}/restore",
                versions.restore_version,
                methods=["POST"],
            ),
            Route(
                "/v1/templates/{name}/versions/{version}",
                versions.retire_version,
                methods=["DELETE"],
            ),
            Route("/v1/templates/{name}/sample.jpg", images.sample_image),
            Route("/v1/templates/{name}/preview", images.preview, methods=["POST"]),
            Route("/v1/live/{kind}/{key}", live.live_value, methods=["GET", "PUT"]),
            *campaigns.routes,
            Route("/healthz", ops.healthz),
            Route("/metrics", ops.metrics_page),
            Route("/openapi.json", ops.openapi_page),
            Route("/studio", lambda request: RedirectResponse("/studio/", status_code=308)),
            Mount("/studio", studio.pages(), name="studio"),
        ],
        middleware=[Middleware(AccessLog), Middleware(images.CachedImages, route=image_route)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
