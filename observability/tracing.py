"""Optional OpenTelemetry tracing of API → workflow → activity, on when OTEL_EXPORTER_OTLP_ENDPOINT is set.

This installs the process's tracer provider (an OTLP/HTTP exporter): FastAPI's own telemetry then opens a server
span per request, and the Temporal SDK's TracingInterceptor carries the trace into workflows and activities.

The packages are an optional extra (`pip install 'compliance-operations[tracing]'`): with the endpoint set and
them missing, the process says so once and runs without tracing.
"""

from __future__ import annotations

import logging

from config import Settings

log = logging.getLogger("observability.tracing")
INSTALL_HINT = "pip install 'compliance-operations[tracing]'"
_provider_installed = False


def install(settings: Settings, service_name: str) -> bool:
    """Trace this process when an endpoint is set (once; later calls only answer whether it traces)."""
    global _provider_installed
    if not settings.otel_exporter_otlp_endpoint:
        return False
    if _provider_installed:
        return True
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        log.error("OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed (%s); tracing is off. "
                  "Install it with: %s", exc.name, INSTALL_HINT)
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": settings.otel_service_name or service_name}))
    endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    _provider_installed = True
    log.info("tracing to %s as %s", endpoint, settings.otel_service_name or service_name)
    return True


def temporal_interceptors(settings: Settings, service_name: str) -> list:
    """The SDK's OpenTelemetry interceptor for a Temporal client (its workers inherit it), or nothing."""
    if not install(settings, service_name):
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def flush() -> None:
    """Send the spans still buffered (for a process that ends without running its exit handlers)."""
    if not _provider_installed:
        return
    from opentelemetry import trace

    trace.get_tracer_provider().shutdown()
