"""OpenTelemetry: a span per call, when `opentelemetry-api` is installed (`pip install swill[otel]`).

The span is a SERVER span named after the rpc. Its parent is the W3C trace context the client sent
in the call's `traceparent` and `tracestate` metadata (read with the propagators OpenTelemetry is
configured with), and it is the current span while the hooks and the handler run, so spans they
start are its children. It ends after `after_request`. Without the package, `traced` returns the
function it is given: the call path does not change at all.

Attributes follow OpenTelemetry's semantic conventions for RPC: `rpc.system`, `rpc.method`,
`rpc.response.status_code` (the status name, as for gRPC), `network.peer.address` and
`network.peer.port`; a code that says the server failed (the same set as gRPC's server spans)
sets the span's status to ERROR and `error.type` to the code.

The client side, `inject_trace_context`, adds the current span's context to a call's metadata,
so that the server's span continues the caller's trace.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Final

from . import __version__
from ._errors import Code

if TYPE_CHECKING:
    from ._call import ServerCall
    from ._errors import Error

__all__ = ["inject_trace_context", "traced", "tracing_configured"]

Run = Callable[["ServerCall"], Coroutine[Any, Any, "Error | None"]]

# As for gRPC servers: codes that say the server failed. The others are the client's doing.
SERVER_FAULTS: Final = frozenset(
    {Code.UNKNOWN, Code.DEADLINE_EXCEEDED, Code.UNIMPLEMENTED, Code.INTERNAL, Code.UNAVAILABLE, Code.DATA_LOSS}
)

try:
    from opentelemetry import context, propagate, trace
    from opentelemetry.propagators.textmap import Getter
except ImportError:  # pragma: no cover - exercised by reloading without the package
    trace = None  # type: ignore[assignment]


def traced(run: Run) -> Run:
    """Wrap `ServerCall.run` in a span per call, or return it as it is without OpenTelemetry."""
    if trace is None:
        return run
    tracer = trace.get_tracer("swill", __version__)
    getter = _MetadataGetter()

    @functools.wraps(run)
    async def run_traced(call: ServerCall) -> Error | None:
        if not call.link.traced:
            return await run(call)
        parent = propagate.extract(call.metadata, getter=getter)
        attributes: dict[str, str | int] = {
            "rpc.system": "swill",
            "rpc.method": call.spec.name,
            "swill.call_id": call.id,
            "swill.connection_id": call.link.connection.id,
        }
        peer = call.link.connection.client
        if peer is not None:
            attributes["network.peer.address"] = peer.host
            attributes["network.peer.port"] = peer.port
        with tracer.start_as_current_span(
            call.spec.name, context=parent, kind=trace.SpanKind.SERVER, attributes=attributes
        ) as span:
            error = await run(call)
            if span.is_recording():
                span.set_attribute("rpc.response.status_code", "OK" if error is None else error.code.value)
                if error is not None and error.code in SERVER_FAULTS:
                    span.set_attribute("error.type", error.code.value)
                    span.set_status(trace.StatusCode.ERROR, f"{error.code.value}: {error.message}")
            return error

    return run_traced


def tracing_configured() -> bool:
    """Whether calls should get spans: OpenTelemetry is installed and a tracer provider is set.

    Looking the provider up costs microseconds, so connections do it once, when they open: a
    provider set later applies to the connections opened after it.
    """
    return trace is not None and not isinstance(trace.get_tracer_provider(), _NOT_CONFIGURED)


def inject_trace_context(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return `metadata` with the current trace context (`traceparent`, `tracestate`) added.

    Without OpenTelemetry, outside a recording span, or when the caller set `traceparent` itself,
    `metadata` is returned as it is. Otherwise a new dict is returned: the caller's is not changed.
    """
    if trace is None or (metadata is not None and "traceparent" in metadata):
        return metadata
    if not context.get_current():  # an empty context holds no span: the usual case, made cheap
        return metadata
    if not trace.get_current_span().get_span_context().is_valid:
        return metadata
    carrier: dict[str, Any] = dict(metadata) if metadata else {}
    propagate.inject(carrier)
    return carrier or None


if trace is not None:
    _NOT_CONFIGURED: Final = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)

    class _MetadataGetter(Getter[Mapping[str, Any]]):
        """Reads trace context from call metadata, whose values need not be strings."""

        def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
            value = carrier.get(key)
            return [value] if isinstance(value, str) else None

        def keys(self, carrier: Mapping[str, Any]) -> list[str]:
            return list(carrier)
