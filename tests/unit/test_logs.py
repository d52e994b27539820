from __future__ import annotations

import json
import logging

from shared.logs import JsonFormatter, request_id_var, trace_from_headers, trace_var


def test_trace_header_parsing() -> None:
    assert trace_from_headers({"x-cloud-trace-context": "abc123/1;o=1"}, "p") == "projects/p/traces/abc123"
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert (
        trace_from_headers({"traceparent": parent}, "p")
        == "projects/p/traces/4bf92f3577b34da6a3ce929d0e0e4736"
    )
    assert trace_from_headers({"x-cloud-trace-context": "not hex!/1"}, "p") is None
    assert trace_from_headers({}, "p") is None


def test_log_lines_are_cloud_logging_json() -> None:
    record = logging.LogRecord("chat", logging.WARNING, __file__, 1, "model call %s", ("x",), None)
    record.usage = {"credits": 3}
    rid, trace = request_id_var.set("r1"), trace_var.set("projects/p/traces/t")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(rid)
        trace_var.reset(trace)
    assert line["severity"] == "WARNING" and line["message"] == "model call x"
    assert line["request_id"] == "r1" and line["logging.googleapis.com/trace"] == "projects/p/traces/t"
    assert line["usage"] == {"credits": 3}
