"""A span per call when OpenTelemetry is installed, child of the client's `traceparent`."""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from types import SimpleNamespace

import anyio
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import swill
from swill import _telemetry
from tests.conftest import LiveServer

from .conftest import connect

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


def ids(span: ReadableSpan) -> tuple[str, str]:
    """The span's trace id and span id, in hex."""
    context = span.get_span_context()
    assert context is not None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


class Spans(InMemorySpanExporter):
    """The SDK's in-memory exporter; `wait` blocks (in a worker thread) until a span matches."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = threading.Condition()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = super().export(spans)
        with self._changed:
            self._changed.notify_all()
        return result

    async def wait(self, predicate: Callable[[ReadableSpan], bool]) -> ReadableSpan:
        def until() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: any(predicate(s) for s in self.get_finished_spans()), timeout=5)

        assert await anyio.to_thread.run_sync(until), f"no matching span in {self.get_finished_spans()}"
        return next(s for s in self.get_finished_spans() if predicate(s))


@pytest.fixture(scope="module")
def spans() -> Iterator[Spans]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # the global provider can be set once per process
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = Spans()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter


app = swill.Swill(__name__, introspection=False, playground=False)
seen_in_hooks: dict[int, str] = {}


def current_trace_id() -> str:
    return format(trace.get_current_span().get_span_context().trace_id, "032x")


@app.before_request_message
def note_trace(request: swill.Request[int], message: int) -> None:
    seen_in_hooks[message] = current_trace_id()


@app.handle()
async def traced(request: swill.Request[int]) -> str:
    return current_trace_id()


@app.handle()
def traced_in_a_thread(request: swill.Request[int]) -> str:
    return current_trace_id()


@app.handle()
async def child(request: swill.Request[int]) -> AsyncIterator[str]:
    with trace.get_tracer("app").start_as_current_span("work") as span:
        yield format(span.get_span_context().span_id, "016x")


@app.handle()
async def fails(request: swill.Request[str]) -> None:
    if request.data == "internal":
        raise RuntimeError("boom")
    if request.data == "hang":
        await anyio.sleep_forever()
    raise swill.Error(swill.Code.NOT_FOUND, "nothing")


@app.handle()
async def count_up(request: swill.Request[int]) -> AsyncIterator[str]:
    for _ in range(request.data):
        yield current_trace_id()


@app.handle()
async def total(request: swill.StreamingRequest[int]) -> str:
    assert [x async for x in request] == [1, 2]
    return current_trace_id()


@app.handle()
async def echo(request: swill.StreamingRequest[int]) -> AsyncIterator[str]:
    async for _ in request:
        yield current_trace_id()


@pytest.fixture(scope="module")
def server(spans: Spans) -> Iterator[LiveServer]:
    live = LiveServer(app)
    live.start()
    yield live
    live.stop()


@pytest.mark.parametrize("rpc", ["traced", "traced_in_a_thread"])
async def test_a_span_per_call_continues_the_clients_trace(server: LiveServer, spans: Spans, rpc: str) -> None:
    key = 1 if rpc == "traced" else 2
    metadata = {"traceparent": TRACEPARENT, "tracestate": "congo=t61rcWkgMzE"}
    async with connect(server) as client:
        await client.send([0, 1, rpc, metadata, None, key])
        # The handler and the hooks run inside the span, in the client's trace.
        assert await client.recv() == [6, 1, TRACE_ID, None, None]
    assert seen_in_hooks[key] == TRACE_ID
    span = await spans.wait(lambda s: s.name == rpc)
    context = span.get_span_context()
    assert context is not None
    assert span.kind is SpanKind.SERVER
    assert format(context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None and span.parent.is_remote
    assert format(span.parent.span_id, "016x") == PARENT_ID
    assert context.trace_state.get("congo") == "t61rcWkgMzE"
    assert span.attributes is not None
    assert span.attributes["rpc.system"] == "swill"
    assert span.attributes["rpc.method"] == rpc
    assert span.attributes["swill.call_id"] == 1
    assert span.attributes["rpc.response.status_code"] == "OK"
    assert span.status.status_code is StatusCode.UNSET


async def test_without_traceparent_the_span_starts_a_trace(server: LiveServer, spans: Spans) -> None:
    async with connect(server) as client:
        await client.send([0, 1, "traced", {"traceparent": 42}, None, 3])  # not a string: ignored
        trace_id = (await client.recv())[2]
    span = await spans.wait(lambda s: s.name == "traced" and ids(s)[0] == trace_id)
    assert span.parent is None


async def test_spans_the_handler_starts_are_children(server: LiveServer, spans: Spans) -> None:
    async with connect(server) as client:
        await client.send([0, 1, "child", {"traceparent": TRACEPARENT}, None, 4])
        work_id = (await client.recv())[2]
    work = await spans.wait(lambda s: s.name == "work" and ids(s)[1] == work_id)
    call = await spans.wait(lambda s: s.name == "child")
    assert work.parent is not None and format(work.parent.span_id, "016x") == ids(call)[1]


@pytest.mark.parametrize(
    ("data", "code", "status"), [("internal", "INTERNAL", StatusCode.ERROR), ("missing", "NOT_FOUND", StatusCode.UNSET)]
)
async def test_errors_the_server_caused_mark_the_span(
    server: LiveServer, spans: Spans, data: str, code: str, status: StatusCode
) -> None:
    async with connect(server) as client:
        await client.send([0, 1, "fails", None, None, data])
        assert (await client.recv())[2] == code
    span = await spans.wait(
        lambda s: s.name == "fails" and s.attributes is not None and s.attributes["rpc.response.status_code"] == code
    )
    assert span.status.status_code is status


def test_without_opentelemetry_nothing_is_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    async def run(call: object) -> None:
        return None

    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    try:
        module = importlib.reload(_telemetry)
        assert module.traced(run) is run
    finally:
        monkeypatch.undo()
        importlib.reload(_telemetry)


async def test_with_the_api_alone_no_span_is_started(monkeypatch: pytest.MonkeyPatch) -> None:
    # No tracer provider configured: the call runs as it would without OpenTelemetry.
    monkeypatch.setattr(trace, "get_tracer_provider", trace.ProxyTracerProvider)
    inside: list[trace.Span] = []

    async def run(call: object) -> None:
        inside.append(trace.get_current_span())

    # Connections look the provider up when they open.
    call = SimpleNamespace(link=SimpleNamespace(traced=_telemetry.tracing_configured()))
    assert call.link.traced is False
    await _telemetry.traced(run)(call)  # type: ignore[arg-type]
    assert inside == [trace.INVALID_SPAN]


# One exchange per call kind, each in the client's trace: (rpc, frames after REQUEST, REQUEST data or
# nothing, the frames the server sends back).
Frames = list[list[object]]
KINDS: dict[str, tuple[str, Frames, list[object], Frames]] = {
    "unary": ("traced", [], [5], [[6, 1, TRACE_ID, None, None]]),
    "server stream": ("count_up", [], [2], [[1, 1, TRACE_ID], [1, 1, TRACE_ID], [3, 1, None]]),
    "client stream": ("total", [[1, 1, 2], [3, 1]], [1], [[6, 1, TRACE_ID, None, None]]),
    "bidi": ("echo", [[1, 1, 2], [3, 1]], [1], [[1, 1, TRACE_ID], [1, 1, TRACE_ID], [3, 1, None]]),
}


@pytest.mark.parametrize("kind", list(KINDS))
async def test_every_call_kind_gets_a_server_span_with_the_rpc_attributes(
    server: LiveServer, spans: Spans, kind: str
) -> None:
    rpc, more, data, expected = KINDS[kind]
    spans.clear()
    async with connect(server) as client:
        await client.send([0, 1, rpc, {"traceparent": TRACEPARENT}, {"window": 8}, *data])
        for frame in more:
            await client.send(frame)
        assert [await client.recv() for _ in expected] == expected
    span = await spans.wait(lambda s: s.name == rpc)
    assert span.kind is SpanKind.SERVER
    assert ids(span)[0] == TRACE_ID
    assert span.parent is not None and format(span.parent.span_id, "016x") == PARENT_ID
    attributes = dict(span.attributes or {})
    assert attributes.pop("swill.connection_id")
    assert isinstance(attributes.pop("network.peer.port"), int)
    assert attributes == {
        "rpc.system": "swill",
        "rpc.method": rpc,
        "rpc.response.status_code": "OK",
        "swill.call_id": 1,
        "network.peer.address": "127.0.0.1",
    }
    assert span.status.status_code is StatusCode.UNSET


async def test_a_server_fault_sets_error_type_and_the_status_description(server: LiveServer, spans: Spans) -> None:
    async with connect(server) as client:
        await client.send([0, 1, "fails", None, {"timeout": 1}, "hang"])
        assert (await client.recv())[2] == "DEADLINE_EXCEEDED"
    span = await spans.wait(
        lambda s: s.name == "fails" and (s.attributes or {}).get("rpc.response.status_code") == "DEADLINE_EXCEEDED"
    )
    assert span.attributes is not None and span.attributes["error.type"] == "DEADLINE_EXCEEDED"
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "DEADLINE_EXCEEDED: the call's deadline passed"


async def test_a_call_the_client_closed_ends_its_span_cancelled(server: LiveServer, spans: Spans) -> None:
    async with connect(server) as client:
        await client.send([0, 1, "fails", None, None, "hang"])
        await client.send([4, 1])
        await client.send([0, 2, "traced", None, None, 6])  # answered after the CLOSE was read
        assert (await client.recv())[:2] == [6, 2]
    span = await spans.wait(
        lambda s: s.name == "fails" and (s.attributes or {}).get("rpc.response.status_code") == "CANCELLED"
    )
    assert span.status.status_code is StatusCode.UNSET
    assert "error.type" not in (span.attributes or {})


async def test_the_python_client_continues_the_current_trace(server: LiveServer, spans: Spans) -> None:
    tracer = trace.get_tracer("test")
    async with swill.Client(server.url) as client:
        with tracer.start_as_current_span("caller", kind=SpanKind.CLIENT) as caller:
            trace_id = await client.call("traced", 7)
            streamed = [x async for x in client.stream("count_up", 1)]
        outside = await client.call("traced", 8)
    caller_trace, caller_span = format(caller.get_span_context().trace_id, "032x"), ids(caller)[1]  # type: ignore[arg-type]
    assert trace_id == caller_trace and streamed == [caller_trace]
    assert outside != caller_trace  # no current span: the server starts a trace of its own
    served = await spans.wait(lambda s: s.name == "traced" and ids(s)[0] == caller_trace)
    assert served.parent is not None and format(served.parent.span_id, "016x") == caller_span


async def test_the_python_client_keeps_a_traceparent_it_was_given(server: LiveServer, spans: Spans) -> None:
    async with swill.Client(server.url) as client:
        with trace.get_tracer("test").start_as_current_span("caller"):
            assert await client.call("traced", 9, metadata={"traceparent": TRACEPARENT}) == TRACE_ID


def test_inject_trace_context_copies_and_only_inside_a_span(spans: Spans) -> None:
    given = {"user": "a"}
    assert _telemetry.inject_trace_context(given) is given
    assert _telemetry.inject_trace_context(None) is None
    with trace.get_tracer("test").start_as_current_span("caller") as span:
        injected = _telemetry.inject_trace_context(given)
    assert given == {"user": "a"}
    assert injected is not None and injected["user"] == "a"
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert injected["traceparent"].startswith(f"00-{trace_id}-{ids(span)[1]}-")  # type: ignore[arg-type]
