"""Prometheus metrics (`swill.metrics`): what is counted, bounded labels, where they are served,
and prometheus_client's multiprocess mode under `swill run --workers 2`."""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import anyio
import anyio.lowlevel
import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

import swill
from swill.metrics import Metrics
from tests.client.test_cli import Served
from tests.conftest import LiveServer

from .conftest import connect

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, by name and labels."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name, frozenset(sample.labels.items())] = sample.value
    return out


def rpc(name: str, **labels: str) -> frozenset[tuple[str, str]]:
    return frozenset({"rpc_system": "swill", "rpc_method": name, **labels}.items())


def make_app() -> tuple[swill.Swill, dict[str, threading.Event]]:
    app = swill.Swill(__name__, playground=False)
    events = {name: threading.Event() for name in ("held", "release", "about_to_send")}

    @app.before_response_message
    def mark(request: swill.Request[int], message: object) -> None:
        # Set just before the second value of `count` goes out: from there to waiting for credit
        # the call never yields to the event loop, so a CREDIT sent after it finds it waiting.
        if request.rpc == "count" and message == 1:
            events["about_to_send"].set()

    @app.handle()
    async def add(request: swill.Request[tuple[int, int]]) -> int:
        return request.data[0] + request.data[1]

    @app.handle()
    async def count(request: swill.Request[int]) -> AsyncIterator[int]:
        for i in range(request.data):
            yield i

    @app.handle()
    async def total(request: swill.StreamingRequest[int]) -> int:
        return sum([x async for x in request])

    @app.handle()
    async def echo(request: swill.StreamingRequest[str]) -> AsyncIterator[str]:
        async for line in request:
            yield line

    @app.handle()
    async def hold(request: swill.Request[None]) -> None:
        events["held"].set()
        await anyio.to_thread.run_sync(events["release"].wait, 10)

    return app, events


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


async def scrape_until(url: str, check: Callable[[Samples], bool], attempts: int = 200) -> Samples:
    """Scrape until `check` holds: a call's figures are counted just after its last frame went out."""
    for _ in range(attempts):
        found = await scrape(url)
        if check(found):
            return found
    raise AssertionError(f"never true: {found}")


@pytest.fixture
def served_app(
    live_server: Callable[..., LiveServer],
) -> Iterator[tuple[LiveServer, Metrics, dict[str, threading.Event]]]:
    app, events = make_app()
    metrics = Metrics(app, path="/metrics", registry=CollectorRegistry())
    server = live_server(app)
    yield server, metrics, events
    events["release"].set()


async def test_calls_of_every_kind_are_counted_by_rpc_and_status(
    served_app: tuple[LiveServer, Metrics, dict[str, threading.Event]],
) -> None:
    server, _, _ = served_app
    url = f"http://127.0.0.1:{server.port}/metrics"
    async with swill.Client(server.url) as client:
        assert await client.call("add", (1, 2)) == 3
        assert await client.call("add", (2, 2)) == 4
        with pytest.raises(swill.Error):
            await client.call("add", "not a pair")
        assert [x async for x in client.stream("count", 3)] == [0, 1, 2]
        total = await client.open("total")
        await total.send(1)
        await total.send(2)
        await total.end()
        assert await total.result() == 3
        echo = await client.open("echo")
        await echo.send("a")
        await echo.end()
        assert [x async for x in echo] == ["a"]
        found = await scrape_until(
            url, lambda s: s.get(("swill_rpc_server_calls_total", rpc("echo", rpc_response_status_code="OK"))) == 1
        )
        assert found["swill_connections_open", frozenset()] == 1
    started = {
        name: found["swill_rpc_server_calls_started_total", rpc(name)] for name in ("add", "count", "total", "echo")
    }
    assert started == {"add": 3, "count": 1, "total": 1, "echo": 1}
    assert found["swill_rpc_server_calls_total", rpc("add", rpc_response_status_code="OK")] == 2
    assert found["swill_rpc_server_calls_total", rpc("add", rpc_response_status_code="INVALID_ARGUMENT")] == 1
    assert found["swill_rpc_server_call_duration_seconds_count", rpc("add")] == 3
    assert found["swill_rpc_server_call_duration_seconds_bucket", rpc("add", le="+Inf")] == 3
    assert 0 < found["swill_rpc_server_call_duration_seconds_sum", rpc("add")] < 10
    assert found["swill_rpc_server_messages_received_total", rpc("total")] == 2
    assert found["swill_rpc_server_messages_sent_total", rpc("count")] == 3
    assert found["swill_rpc_server_messages_sent_total", rpc("add")] == 2  # the failed call sent none
    assert found["swill_rpc_server_received_bytes_total", rpc("add")] > 0
    assert found["swill_rpc_server_sent_bytes_total", rpc("echo")] == 5  # the frame [1, 1, "a"]
    # Registered rpcs that were never called are there, at zero: dashboards see them.
    assert found["swill_rpc_server_calls_started_total", rpc("hold")] == 0
    assert found["swill_rpc_server_calls_in_flight", rpc("add")] == 0


async def test_open_calls_and_connections_are_gauges(
    served_app: tuple[LiveServer, Metrics, dict[str, threading.Event]],
) -> None:
    server, _, events = served_app
    url = f"http://127.0.0.1:{server.port}/metrics"
    async with swill.Client(server.url) as client:
        held = await client.open("hold", None)
        assert await anyio.to_thread.run_sync(events["held"].wait, 10)
        found = await scrape(url)
        assert found["swill_rpc_server_calls_in_flight", rpc("hold")] == 1
        assert found["swill_connections_open", frozenset()] == 1
        events["release"].set()
        await held.result()
        await scrape_until(url, lambda s: s["swill_rpc_server_calls_in_flight", rpc("hold")] == 0)
    await scrape_until(url, lambda s: s["swill_connections_open", frozenset()] == 0)


async def test_time_waiting_for_credit_is_counted(
    served_app: tuple[LiveServer, Metrics, dict[str, threading.Event]],
) -> None:
    server, _, events = served_app
    async with connect(server) as raw:
        await raw.send([0, 1, "count", None, {"window": 1}, 3])
        assert await raw.recv() == [1, 1, 0]
        assert await anyio.to_thread.run_sync(events["about_to_send"].wait, 10)
        await raw.send([7, 1, 10])
        assert [await raw.recv() for _ in range(3)] == [[1, 1, 1], [1, 1, 2], [3, 1, None]]
    url = f"http://127.0.0.1:{server.port}/metrics"
    found = await scrape_until(url, lambda s: s["swill_rpc_server_calls_started_total", rpc("count")] == 1)
    found = await scrape_until(url, lambda s: s["swill_rpc_server_credit_wait_seconds_total", rpc("count")] > 0)
    assert found["swill_rpc_server_credit_wait_seconds_total", rpc("count")] < 10


async def test_unknown_rpc_names_never_become_labels(
    served_app: tuple[LiveServer, Metrics, dict[str, threading.Event]],
) -> None:
    server, _, _ = served_app
    async with connect(server) as raw:
        for i, name in enumerate(["nope", "x" * 200, "also.not.there"], start=1):
            await raw.send([0, i, name, None, None, None])
            assert (await raw.recv())[:3] == [5, i, "UNIMPLEMENTED"]
    found = await scrape(f"http://127.0.0.1:{server.port}/metrics")
    methods = {value for _, labels in found for key, value in labels if key == "rpc_method"}
    assert methods == {"add", "count", "total", "echo", "hold", "swill.introspect"}


async def test_topic_subscribers_and_values_dropped_for_slow_ones() -> None:
    app = swill.Swill(__name__, playground=False)
    metrics = Metrics(app, registry=CollectorRegistry())
    ticks = app.topic("ticks", int, policy="latest", queue_size=1)
    subscription = ticks.subscribe()
    await subscription.start()
    for i in range(4):  # nobody reads: the queue keeps the newest value, the others are dropped
        await ticks.publish(i)
    for _ in range(100):  # the in-memory broker delivers on the next turns of the loop
        if ticks.dropped == 3:
            break
        await anyio.lowlevel.checkpoint()
    found = samples(metrics.exposition().decode())
    assert found["swill_topic_subscribers", frozenset({("topic", "ticks")})] == 1
    assert found["swill_topic_messages_dropped_total", frozenset({("topic", "ticks")})] == 3
    assert await anext(subscription) == 3
    await subscription.aclose()
    found = samples(metrics.exposition().decode())
    assert found["swill_topic_subscribers", frozenset({("topic", "ticks")})] == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_a_port_of_their_own_keeps_them_off_the_apps_listener(live_server: Callable[..., LiveServer]) -> None:
    app, _ = make_app()
    port = free_port()
    Metrics(app, port=port, addr="127.0.0.1", registry=CollectorRegistry())
    server = live_server(app)  # the port opens with the app's startup
    async with swill.Client(server.url) as client:
        assert await client.call("add", (1, 1)) == 2
    found = await scrape_until(
        f"http://127.0.0.1:{port}/metrics",
        lambda s: s.get(("swill_rpc_server_calls_total", rpc("add", rpc_response_status_code="OK"))) == 1,
    )
    assert found["swill_rpc_server_calls_started_total", rpc("add")] == 1
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"http://127.0.0.1:{server.port}/metrics")).status_code == 404
        server.stop()  # the app's shutdown closes the port
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/metrics")


def test_an_app_has_one_observer() -> None:
    app = swill.Swill(__name__)
    Metrics(app, registry=CollectorRegistry())
    with pytest.raises(ValueError, match="already has an observer"):
        Metrics(app, registry=CollectorRegistry())


async def test_workers_share_their_figures_through_the_multiprocess_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    served = Served("tests.observability.metrics_app:app", workers=2)
    try:
        # Connections go to whichever worker accepts them: open them until both have served.
        pids: dict[int, int] = {}
        calls = 0
        for _ in range(200):
            async with swill.Client(served.url) as client:
                pid = await client.call("pid", None)
                assert [x async for x in client.stream("count", 2)] == [0, 1]
            pids[pid] = pids.get(pid, 0) + 1
            calls += 1
            if len(pids) == 2 and calls >= 10:
                break
        assert len(pids) == 2, f"one worker served every connection: {pids}"
        url = served.url.replace("ws://", "http://").replace("/ws", "/metrics")
        # Each worker writes its figures every 50 ms; a scrape of either sums both.
        found = await scrape_until(
            url, lambda s: s.get(("swill_rpc_server_calls_total", rpc("pid", rpc_response_status_code="OK"))) == calls
        )
        assert found["swill_rpc_server_calls_started_total", rpc("count")] == calls
        assert found["swill_rpc_server_messages_sent_total", rpc("count")] == 2 * calls
        assert found["swill_rpc_server_call_duration_seconds_count", rpc("pid")] == calls
        assert found["swill_rpc_server_call_duration_seconds_bucket", rpc("pid", le="+Inf")] == calls
        assert found["swill_rpc_server_call_duration_seconds_sum", rpc("pid")] > 0
        assert found["swill_rpc_server_calls_in_flight", rpc("pid")] == 0
        assert len(list(directory.glob("*.db"))) >= 2  # both workers wrote files
    finally:
        assert served.stop() == 0
