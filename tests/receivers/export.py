"""Sends one trace through an official OpenTelemetry Python exporter and prints, as JSON on
stdout, exactly what the application recorded, for the Rust test to compare with what
spanlake stored.

usage: export.py EXPORTER ENDPOINT SERVICE

EXPORTER is one of otlp-grpc, otlp-http, zipkin-json, zipkin-proto, jaeger-thrift,
jaeger-agent; ENDPOINT is what that exporter takes (host:port for otlp-grpc and jaeger-agent,
a full URL for the others). Exits non-zero
when the exporter reports a failure (the SDK would only log it).
"""

import json
import sys

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags


def make_exporter(kind, endpoint):
    if kind == "otlp-grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint, insecure=True)
    if kind == "otlp-http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint)
    if kind == "zipkin-json":
        from opentelemetry.exporter.zipkin.json import ZipkinExporter

        return ZipkinExporter(endpoint=endpoint)
    if kind == "zipkin-proto":
        from opentelemetry.exporter.zipkin.proto.http import ZipkinExporter

        return ZipkinExporter(endpoint=endpoint)
    if kind == "jaeger-thrift":
        from opentelemetry.exporter.jaeger.thrift import JaegerExporter

        return JaegerExporter(collector_endpoint=endpoint)
    if kind == "jaeger-agent":
        from opentelemetry.exporter.jaeger.thrift import JaegerExporter

        host, port = endpoint.rsplit(":", 1)
        return JaegerExporter(agent_host_name=host, agent_port=int(port))
    raise SystemExit(f"unknown exporter {kind!r}")


class Checked(SpanExporter):
    """Passes spans on and remembers whether every export succeeded."""

    def __init__(self, inner):
        self.inner = inner
        self.failures = 0

    def export(self, spans):
        try:
            result = self.inner.export(spans)
        except Exception as error:  # some exporters raise instead of answering FAILURE
            sys.stderr.write(f"export raised {error!r}\n")
            result = SpanExportResult.FAILURE
        if result != SpanExportResult.SUCCESS:
            self.failures += 1
        return result

    def shutdown(self):
        self.inner.shutdown()


def hex_id(value, width):
    return format(value, f"0{width}x")


def record(span):
    context = span.get_span_context()
    return {
        "span_id": hex_id(context.span_id, 16),
        "parent_span_id": hex_id(span.parent.span_id, 16) if span.parent else "",
        "name": span.name,
        "kind": span.kind.name,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "attributes": dict(span.attributes),
        "events": [
            {"name": e.name, "time_ns": e.timestamp, "attributes": dict(e.attributes)}
            for e in span.events
        ],
        "links": [
            {
                "trace_id": hex_id(link.context.trace_id, 32),
                "span_id": hex_id(link.context.span_id, 16),
                "attributes": dict(link.attributes),
            }
            for link in span.links
        ],
        "status": {"code": span.status.status_code.name, "description": span.status.description or ""},
    }


def main():
    kind, endpoint, service = sys.argv[1:4]
    checked = Checked(make_exporter(kind, endpoint))
    provider = TracerProvider(resource=Resource.create({"service.name": service, "deployment.environment": "ci"}))
    recorded = []

    class Recorder(SpanExporter):
        def export(self, spans):
            recorded.extend(record(span) for span in spans)
            return SpanExportResult.SUCCESS

    provider.add_span_processor(SimpleSpanProcessor(Recorder()))
    provider.add_span_processor(SimpleSpanProcessor(checked))
    tracer = provider.get_tracer("spanlake-ci", "1.2.3")

    linked = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(1),
    )
    with tracer.start_as_current_span(
        "checkout",
        kind=SpanKind.SERVER,
        attributes={"http.method": "POST", "http.status_code": 502, "cart.total": 12.5, "cart.gift": True},
    ) as root:
        with tracer.start_as_current_span(
            "charge card",
            kind=SpanKind.CLIENT,
            links=[Link(linked, {"link.reason": "retry-of"})],
        ) as child:
            child.set_attribute("payment.provider", "acme-pay")
            child.add_event("retry", {"attempt": 2})
            child.set_status(Status(StatusCode.ERROR, "card declined"))
        root.set_status(Status(StatusCode.ERROR))
    provider.shutdown()
    trace_id = hex_id(root.get_span_context().trace_id, 32)
    print(json.dumps({"trace_id": trace_id, "service": service, "spans": recorded}))
    if checked.failures:
        sys.stderr.write(f"{kind}: {checked.failures} export(s) failed\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
