from __future__ import annotations

import json
import logging

from shared.logs import JsonFormatter, request_id_var, trace_var


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
