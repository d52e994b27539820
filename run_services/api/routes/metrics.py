"""`GET /internal/metrics`: the Prometheus text of this instance's metrics (shared/telemetry/metrics.py),
for a scraper holding METRICS_TOKEN. Never public: without a configured token the route answers 404 like
any unknown path, and a wrong or missing bearer token is 401."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Response

from run_services.api.deps import ServicesDep
from shared.errors import NotFound, Unauthorized
from shared.telemetry.metrics import prometheus_text

router = APIRouter(include_in_schema=False)

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/internal/metrics")
async def metrics(services: ServicesDep, authorization: Annotated[str, Header()] = "") -> Response:
    settings = services.settings
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if not token or settings.metrics_exporter != "prometheus":
        raise NotFound("No such route.")
    given = authorization.removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise Unauthorized("Send `Authorization: Bearer <METRICS_TOKEN>`.", code="invalid_metrics_token")
    return Response(prometheus_text(), media_type=PROMETHEUS_TEXT)
