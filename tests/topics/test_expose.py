"""Exposed topics over a real uvicorn server, driven by the Python client."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import msgspec
import pytest

import swill
from swill._topics import Topic
from swill.client import Client
from swill.testing import TestClient
from tests.conftest import LiveServer

pytestmark = pytest.mark.anyio

Start = Callable[..., LiveServer]


class Reading(msgspec.Struct):
    sensor: str
    celsius: float


class Subscribed:
    """Counts exposed-topic calls that are subscribed: their leading metadata went out."""

    def __init__(self, app: swill.Swill) -> None:
        self.count = 0
        self.changed = threading.Condition()
        self.errors: list[swill.Error] = []
        self.ended = threading.Event()
        app.before_leading_metadata(self.hook)
        app.after_request(self.after)

    def after(self, request: Any, error: swill.Error | None) -> None:
        if error is not None and error.code is not swill.Code.CANCELLED:
            self.errors.append(error)
            self.ended.set()

    def hook(self, request: Any, metadata: dict[str, Any]) -> None:
        if "topic" in metadata:
            with self.changed:
                self.count += 1
                self.changed.notify_all()

    async def reach(self, n: int) -> None:
        def wait() -> bool:
            with self.changed:
                return self.changed.wait_for(lambda: self.count >= n, 5)

        assert await anyio.to_thread.run_sync(wait), f"{n} subscribers expected, {self.count} seen"


def dashboard() -> tuple[swill.Swill, Any, Any, Subscribed]:
    app = swill.Swill(__name__)
    readings: Topic[Reading] = app.topic("readings", Reading, replay=True, policy="latest", queue_size=4, history=10)
    alerts: Topic[str] = app.topic("alerts", str, policy="fifo", queue_size=2, max_lag=0.3)
    app.expose(readings)
    app.expose(alerts, name="alerts.watch")
    return app, readings, alerts, Subscribed(app)


async def publish(topic: Any, *values: Any) -> list[int]:
    """Publish from the test's thread into the server's loop, as another thread of the app would."""
    futures = [topic.publish_threadsafe(value) for value in values]
    return [await anyio.to_thread.run_sync(future.result, 5) for future in futures]


async def test_an_exposed_topic_streams_id_value_events(live_server: Start) -> None:
    app, readings, _, _ = dashboard()
    server = live_server(app)
    await publish(readings, Reading("a", 20.0))
    async with Client(server.url) as client:
        call = client.stream("readings", None)
        with anyio.fail_after(5):
            events = aiter(call)
            assert await anext(events) == {"id": 1, "value": {"sensor": "a", "celsius": 20.0}}  # replay
            await publish(readings, Reading("b", 21.5))
            assert await anext(events) == {"id": 2, "value": {"sensor": "b", "celsius": 21.5}}
            call.cancel()


async def test_a_client_resumes_after_the_last_id_it_saw(live_server: Start) -> None:
    app, readings, _, _ = dashboard()
    server = live_server(app)
    async with Client(server.url) as client:
        with anyio.fail_after(5):
            await publish(readings, *(Reading("a", float(i)) for i in range(3)))
            async for event in client.stream("readings", None):
                last = event["id"]
                break
            assert last == 3
            await publish(readings, *(Reading("a", float(i)) for i in range(3, 6)))
            seen = []
            async for event in client.stream("readings", last):
                seen.append(event["id"])
                if event["id"] == 6:
                    break
            assert seen == [4, 5, 6]


async def test_the_rpc_validates_the_id_it_takes(live_server: Start) -> None:
    app, _, _, _ = dashboard()
    server = live_server(app)
    async with Client(server.url) as client:
        for bad in (-1, "x"):
            with pytest.raises(swill.Error) as raised:
                async for _ in client.stream("readings", bad, timeout=5):
                    pass
            assert raised.value.code is swill.Code.INVALID_ARGUMENT


async def test_a_stuck_fifo_subscriber_is_ended_without_slowing_the_others(live_server: Start) -> None:
    app, _, alerts, subscribed = dashboard()
    server = live_server(app)
    async with Client(server.url) as client:
        # window=1 and never read: the server may send one message, then has to hold the rest.
        async with client.stream("alerts.watch", None, window=1) as stuck, client.stream("alerts.watch", None) as fast:
            await subscribed.reach(2)
            with anyio.fail_after(2):  # the publisher never waits for the stuck one
                await publish(alerts, *(f"alert {i}" for i in range(20)))
            with anyio.fail_after(5):
                fast_events = aiter(fast)
                got = [(await anext(fast_events))["value"] for _ in range(20)]
                assert got == [f"alert {i}" for i in range(20)]
                assert stuck.leading_metadata == {"topic": "alerts"}  # came before, on the same socket
            # Only now may the stuck one read: its call ended while it held everything back.
            assert await anyio.to_thread.run_sync(subscribed.ended.wait, 5)
            assert [e.code for e in subscribed.errors] == [swill.Code.RESOURCE_EXHAUSTED]
            with anyio.fail_after(5), pytest.raises(swill.Error) as raised:
                async for _ in stuck:
                    pass
            assert raised.value.code is swill.Code.RESOURCE_EXHAUSTED
            assert "fell behind" in raised.value.message
            await publish(alerts, "after")
            with anyio.fail_after(5):
                assert (await anext(fast_events))["value"] == "after"


async def test_a_handler_subscribes_and_filters(live_server: Start) -> None:
    app = swill.Swill(__name__)
    temperature: Topic[float] = app.topic("temperature", float, policy="fifo", queue_size=16)
    ended = threading.Event()

    @app.handle()
    async def hot(request: swill.Request[float]) -> AsyncIterator[float]:
        subscription = temperature.subscribe()
        yield -1.0  # a test's marker: subscribed
        async for value in subscription:
            if value > request.data:
                yield value

    @app.after_request
    def done(request: Any, error: Any) -> None:
        if request.rpc == "hot":
            ended.set()

    server = live_server(app)
    async with Client(server.url) as client:
        values = aiter(client.stream("hot", 30.0))
        with anyio.fail_after(5):
            assert await anext(values) == -1.0
            await publish(temperature, 10.0, 31.0, 20.0, 35.5)
            assert [await anext(values), await anext(values)] == [31.0, 35.5]
        await values.aclose()  # type: ignore[attr-defined]
        assert await anyio.to_thread.run_sync(ended.wait, 5)
    assert temperature.subscribers == 0  # leaving the handler let go of the subscription


async def test_exposed_topics_appear_in_introspection(live_server: Start) -> None:
    app, _, _, _ = dashboard()
    server = live_server(app)
    async with Client(server.url) as client:
        document = await client.call("swill.introspect", None, timeout=5)
    rpcs = {rpc["name"]: rpc for rpc in document["rpcs"]}
    watch = rpcs["alerts.watch"]
    assert watch["request"]["stream"] is False
    assert watch["response"]["stream"] is True
    assert "alerts" in watch["doc"]
    request_schema = watch["request"]["schema"]
    assert {"type": "null"} in request_schema["anyOf"]
    response = watch["response"]["schema"]
    name = response["$ref"].rsplit("/", 1)[1]
    assert document["schemas"][name]["required"] == ["id", "value"]


async def test_topics_work_in_process_with_the_test_client() -> None:
    app, readings, alerts, subscribed = dashboard()
    async with TestClient(app) as client:
        await readings.publish(Reading("a", 1.0))  # the test's loop is the app's loop
        async with client.stream("alerts.watch", None) as watching:
            events = aiter(client.stream("readings", None))
            with anyio.fail_after(5):
                assert (await anext(events))["value"] == {"sensor": "a", "celsius": 1.0}
                await subscribed.reach(2)
                assert await alerts.publish("hello") == 1
                assert (await anext(aiter(watching)))["value"] == "hello"
            await events.aclose()  # type: ignore[attr-defined]
