"""The chat/API service (Cloud Run). Routes translate HTTP into service calls; nothing else lives here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from run_services.api.console import mount_console
from run_services.api.cors import add_cors
from run_services.api.errors import install_error_handlers
from run_services.api.middleware import RequestContextMiddleware
from run_services.api.routes import (
    account,
    api_keys,
    assistants,
    audio,
    audit,
    auth,
    chat,
    credits,
    embeddings,
    files,
    guardrails,
    health,
    images,
    jobs,
    messages,
    metrics,
    models,
    responses,
    speech,
    templates,
    threads,
    uploads,
    vector_stores,
)
from run_services.api.routes import billing as billing_routes
from run_services.api.routes import usage as usage_routes
from run_services.api.routes import workspaces as workspace_routes
from shared.bootstrap import build_services, close_services
from shared.bootstrap.warmup import should_warm
from shared.files.uploads import PART_MAX_BYTES, UPLOAD_ID
from shared.gateway.lazy import warm_in_background
from shared.logs import configure_logging
from shared.settings import Settings, get_settings
from shared.telemetry.error_reports import configure_error_reports
from shared.telemetry.metrics import configure_metrics
from shared.telemetry.tracing import configure_tracing

log = logging.getLogger("api.main")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    configure_tracing(settings)
    configure_metrics(settings)
    configure_error_reports(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = build_services(settings)
        # Credit leases flush in the background (terraform keeps the CPU on outside requests for it).
        await app.state.services.money.leases.start()
        if not console_served:
            folder = str(settings.console_dir)
            log.info("console not built: /app is not served", extra={"console_dir": folder})
        warm, users = should_warm(app.state.services, settings)
        why = {"warm": warm, "setting": settings.litellm_warmup, "users": users[:20]}
        log.info("litellm warm-up", extra=why)
        if warm:
            # After the first loop turn, i.e. once uvicorn has bound the port and serves: the import
            # runs in a daemon thread while the native lane answers.
            asyncio.get_running_loop().call_soon(warm_in_background)
        try:
            yield
        finally:
            await close_services(app.state.services)

    # The docs describe every route to anyone: off in production unless a setting turns them on.
    docs = settings.environment != "production" or settings.api_docs_enabled
    app = FastAPI(
        title="AI backend",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        # FastAPI's native OpenTelemetry: a server span per request (shared/telemetry/tracing.py installs the
        # provider and exporter). Its log records would carry validation errors' input: off.
        telemetry={"logs": False},
    )
    app.add_middleware(
        RequestContextMiddleware,
        project=settings.gcp_project,
        max_body=settings.max_request_bytes,
        hsts=settings.environment not in ("local", "test"),
        route_limits={
            path: max(settings.max_chat_request_bytes, settings.max_request_bytes)
            for path in ("/v1/chat/completions", "/v1/messages", "/v1/responses")
        }
        | {"/v1/files": max(settings.max_file_request_bytes, settings.max_request_bytes)},
        pattern_limits=[
            (rf"/v1/uploads/{UPLOAD_ID}/parts", max(PART_MAX_BYTES + 65_536, settings.max_request_bytes))
        ],
    )
    add_cors(app, settings)
    install_error_handlers(app)
    for module in (
        health,
        auth,
        api_keys,
        credits,
        models,
        chat,
        messages,
        responses,
        embeddings,
        threads,
        jobs,
        images,
        audio,
        speech,
        audit,
        account,
        metrics,
        templates,
        files,
        uploads,
        assistants,
        vector_stores,
    ):
        app.include_router(module.router)
    app.include_router(auth.me_router)
    app.include_router(billing_routes.router)
    app.include_router(workspace_routes.routes)
    app.include_router(guardrails.router)
    app.include_router(usage_routes.router)
    console_served = mount_console(app, settings)
    return app


app = create_app()
