"""A scripted video provider with OpenAI's video API shape, reached through litellm (the real adapter):

  POST /v1/videos                  (multipart: model, prompt, seconds, size) -> a queued operation
  GET  /v1/videos/{id}             the operation: in_progress until it has been asked `polls` times,
                                   then completed (or failed, when scripted)
  GET  /v1/videos/{id}/content     a small MP4-ish payload (an ftyp box and some bytes)

Scripts are keyed by a word of the prompt, so tests side by side do not disturb each other:
  `polls(word, n)`        the operation completes on its n-th status request (default 2)
  `fail(word)`            the operation ends failed on its first status request
  `refuse(word, status)`  the submit answers `status`
`submits(word)`, `status_calls(word)` and `status_times(word)` (unix seconds, when each status request
arrived) tell what happened.
"""

from __future__ import annotations

import email
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free" + bytes(range(64))
DEFAULT_POLLS = 2


@dataclass
class Operation:
    id: str
    words: set[str]
    model: str
    seconds: str
    size: str
    polls_needed: int
    fails: bool
    asked: int = 0
    times: list[float] = field(default_factory=list)


class FakeVideos:
    def __init__(self) -> None:
        self.base_url = ""
        self._lock = threading.Lock()
        self._ops: dict[str, Operation] = {}
        self._polls: dict[str, int] = {}
        self._fails: set[str] = set()
        self._refuse: dict[str, int] = {}
        self._submits: Counter[str] = Counter()
        self._status: dict[str, list[float]] = defaultdict(list)
        self.app = Starlette(
            routes=[
                Route("/v1/videos", self._create, methods=["POST"]),
                Route("/v1/videos/{video_id}", self._retrieve, methods=["GET"]),
                Route("/v1/videos/{video_id}/content", self._content, methods=["GET"]),
            ]
        )

    def polls(self, word: str, n: int) -> None:
        with self._lock:
            self._polls[word] = n

    def fail(self, word: str) -> None:
        with self._lock:
            self._fails.add(word)

    def refuse(self, word: str, status: int) -> None:
        with self._lock:
            self._refuse[word] = status

    def submits(self, word: str) -> int:
        with self._lock:
            return self._submits[word]

    def status_calls(self, word: str) -> int:
        return len(self.status_times(word))

    def status_times(self, word: str) -> list[float]:
        with self._lock:
            return list(self._status[word])

    async def _create(self, request: Request) -> Response:
        form = _multipart(request.headers.get("content-type", ""), await request.body())
        words = set(form.get("prompt", "").split())
        with self._lock:
            for word in words:
                self._submits[word] += 1
            refused = next((self._refuse[w] for w in words if w in self._refuse), None)
            if refused is not None:
                error = {"message": f"scripted refusal {refused}", "type": "invalid_request_error"}
                return JSONResponse({"error": error}, status_code=refused)
            needed = max((self._polls.get(w, DEFAULT_POLLS) for w in words), default=DEFAULT_POLLS)
            op = Operation(
                id=f"vid_{uuid.uuid4().hex[:16]}",
                words=words,
                model=form.get("model", ""),
                seconds=form.get("seconds", "4"),
                size=form.get("size", "1280x720"),
                polls_needed=needed,
                fails=bool(words & self._fails),
            )
            self._ops[op.id] = op
        return JSONResponse(self._body(op, "queued"))

    async def _retrieve(self, request: Request) -> Response:
        with self._lock:
            op = self._ops.get(request.path_params["video_id"])
            if op is None:
                return JSONResponse({"error": {"message": "no such video"}}, status_code=404)
            op.asked += 1
            at = time.time()
            for word in op.words:
                self._status[word].append(at)
            if op.fails:
                body = self._body(op, "failed")
                body["error"] = {"code": "moderation_blocked", "message": "scripted failure"}
                return JSONResponse(body)
            done = op.asked >= op.polls_needed
            body = self._body(op, "completed" if done else "in_progress")
            body["progress"] = 100 if done else op.asked * 100 // op.polls_needed
        return JSONResponse(body)

    async def _content(self, request: Request) -> Response:
        with self._lock:
            op = self._ops.get(request.path_params["video_id"])
            ready = op is not None and not op.fails and op.asked >= op.polls_needed
        if not ready:
            return JSONResponse({"error": {"message": "the video is not ready"}}, status_code=404)
        return Response(MP4, media_type="video/mp4")

    @staticmethod
    def _body(op: Operation, status: str) -> dict[str, object]:
        return {
            "id": op.id,
            "object": "video",
            "status": status,
            "model": op.model,
            "seconds": op.seconds,
            "size": op.size,
            "created_at": int(time.time()),
            "progress": 0,
        }


def _multipart(content_type: str, body: bytes) -> dict[str, str]:
    """The text fields of a multipart/form-data body (the stdlib's MIME parser; no extra package)."""
    message = email.message_from_bytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields: dict[str, str] = {}
    for part in message.walk():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            fields[name] = payload.decode() if isinstance(payload, bytes) else ""
    return fields
