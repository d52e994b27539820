"""Cloud Tasks: the one adapter that enqueues HTTP tasks (job steps). Nothing else imports the client.

A task has a name derived from what it does (a job step), so Cloud Tasks refuses a second task with
the same name (ALREADY_EXISTS, treated as success here). In the cloud each task carries an OIDC token
minted for settings.tasks_service_account with the worker's URL as audience (or jobs_oidc_audience);
locally (settings.tasks_emulator_host, or TASKS_EMULATOR_HOST) the same code runs against the
emulator without a token. The emulator does not deduplicate names: the worker's own step check does.

The async gRPC client belongs to the event loop that first uses it: build one TaskQueue per loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from google.api_core.exceptions import AlreadyExists, GoogleAPICallError
from google.protobuf import timestamp_pb2

from shared.errors import AppError
from shared.settings import Settings

if TYPE_CHECKING:  # imported on first use: ~0.2 s of start-up (aiohttp via google.auth.aio) chat never needs
    from google.cloud import tasks_v2

log = logging.getLogger("tasks")

_TASK_ID = re.compile(r"^[A-Za-z0-9_-]{1,500}$")


class EnqueueFailed(AppError):
    status = 503
    type = "api_error"
    code = "enqueue_failed"


class Queue(Protocol):
    async def enqueue(
        self, task_id: str, payload: Mapping[str, Any], schedule_at: dt.datetime | None = None
    ) -> bool:
        """Create the task once; False when a task with that id already exists. Raises EnqueueFailed."""
        ...


class TaskQueue:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._emulator = settings.tasks_emulator_host or os.environ.get("TASKS_EMULATOR_HOST") or None
        self._client: tasks_v2.CloudTasksAsyncClient | None = None
        self._queue_ready = False
        self._lock = asyncio.Lock()

    @property
    def queue_path(self) -> str:
        s = self._settings
        return f"projects/{s.gcp_project}/locations/{s.tasks_location}/queues/{s.jobs_queue}"

    async def enqueue(
        self, task_id: str, payload: Mapping[str, Any], schedule_at: dt.datetime | None = None
    ) -> bool:
        if not _TASK_ID.match(task_id):
            raise ValueError(f"{task_id!r} is not a valid Cloud Tasks task id")
        task = self._task(task_id, payload, schedule_at)
        try:
            client = await self._ready()
            await client.create_task(parent=self.queue_path, task=task)
        except AlreadyExists:
            log.info("task already enqueued", extra={"task": task_id})
            return False
        except (GoogleAPICallError, OSError) as exc:
            log.warning("enqueue failed", extra={"task": task_id}, exc_info=True)
            raise EnqueueFailed("The job step could not be queued; retry in a moment.") from exc
        log.info("task enqueued", extra={"task": task_id})
        return True

    def _task(
        self, task_id: str, payload: Mapping[str, Any], schedule_at: dt.datetime | None
    ) -> tasks_v2.Task:
        from google.cloud import tasks_v2

        s = self._settings
        request = tasks_v2.HttpRequest(
            url=s.jobs_worker_url,
            http_method=tasks_v2.HttpMethod.POST,
            headers={"Content-Type": "application/json"},
            body=json.dumps(payload, separators=(",", ":")).encode(),
        )
        if s.tasks_service_account and not self._emulator:
            request.oidc_token = tasks_v2.OidcToken(
                service_account_email=s.tasks_service_account,
                audience=s.jobs_oidc_audience or s.jobs_worker_url,
            )
        task = tasks_v2.Task(name=f"{self.queue_path}/tasks/{task_id}", http_request=request)
        if schedule_at is not None:
            stamp = timestamp_pb2.Timestamp()
            stamp.FromDatetime(schedule_at.astimezone(dt.UTC).replace(tzinfo=None))
            task.schedule_time = stamp
        return task

    async def _ready(self) -> tasks_v2.CloudTasksAsyncClient:
        from google.cloud import tasks_v2

        async with self._lock:
            if self._client is None:
                self._client = self._new_client()
            if self._emulator and not self._queue_ready:
                # In the cloud the queue is Terraform's; the emulator starts empty.
                parent = self.queue_path.rsplit("/queues/", 1)[0]
                await self._client.create_queue(parent=parent, queue=tasks_v2.Queue(name=self.queue_path))
                self._queue_ready = True
            return self._client

    def _new_client(self) -> tasks_v2.CloudTasksAsyncClient:
        from google.cloud import tasks_v2

        if self._emulator:
            import grpc
            from google.cloud.tasks_v2.services.cloud_tasks.transports import (
                CloudTasksGrpcAsyncIOTransport,
            )

            channel = grpc.aio.insecure_channel(self._emulator)
            return tasks_v2.CloudTasksAsyncClient(transport=CloudTasksGrpcAsyncIOTransport(channel=channel))
        return tasks_v2.CloudTasksAsyncClient()

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.transport.close()
