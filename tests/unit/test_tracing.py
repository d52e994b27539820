"""The caller's trace is continued from W3C traceparent or X-Cloud-Trace-Context, and carried on."""

from __future__ import annotations

from opentelemetry import trace

from shared.telemetry import tracing


def remote(headers: dict[str, str]) -> tuple[str, str] | None:
    ctx = tracing.parent_from(headers)
    if ctx is None:
        return None
    span = trace.get_current_span(ctx).get_span_context()
    return f"{span.trace_id:032x}", f"{span.span_id:016x}"


def test_w3c_traceparent_is_continued() -> None:
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert remote({"traceparent": parent}) == ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")


def test_cloud_trace_context_is_continued_with_its_decimal_span_id() -> None:
    header = {"x-cloud-trace-context": "105445aa7843bc8bf206b12000100000/1;o=1"}
    assert remote(header) == ("105445aa7843bc8bf206b12000100000", "0000000000000001")


def test_bad_headers_start_a_new_trace() -> None:
    for headers in (
        {},
        {"x-cloud-trace-context": "not hex!/1"},
        {"x-cloud-trace-context": "abc/zz"},
        {"x-cloud-trace-context": "0/1"},
        {"traceparent": "garbage"},
    ):
        assert remote(headers) is None, headers


def test_the_carrier_names_the_current_trace() -> None:
    parent = tracing.parent_from({"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
    with tracing.span("outer", parent):
        carried = tracing.carrier()
    assert carried["traceparent"].split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"
    trace_id, _ = remote(carried) or ("", "")
    assert trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
