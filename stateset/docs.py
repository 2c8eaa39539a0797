"""The schema and docs views (their own module: DRF imports stateset.schema while importing its views)."""

from __future__ import annotations

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.renderers import JSONRenderer


class _ErrorsAsJson:
    """The schema (YAML or JSON) and docs (HTML) views need a key or a staff session like every /v1 route
    (SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"]); their errors - 401, 405, 429 - come in the error shape."""

    http_method_names = ["get", "head"]

    def finalize_response(self, request, response, *args, **kwargs):
        if response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class SchemaView(_ErrorsAsJson, SpectacularAPIView):
    pass


class DocsView(_ErrorsAsJson, SpectacularSwaggerView):
    pass
