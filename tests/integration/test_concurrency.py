"""Many calls of every kind on one connection, and clients that vanish."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import anyio
import websockets

from tests.conftest import LiveServer, decode, encode

from .app import app, cleaned, started


async def test_a_thousand_interleaved_calls_of_all_four_kinds(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(app)
    rng = random.Random(7)
    expected: dict[int, Any] = {}
    plan: list[list[Any]] = []
    for id in range(1, 1001):
        kind = id % 4
        if kind == 0:
            a, b = rng.randrange(1000), rng.randrange(1000)
            plan.append([[0, id, "add", None, None, [a, b]]])
            expected[id] = ("response", a + b)
        elif kind == 1:
            n = rng.randrange(1, 30)
            plan.append([[0, id, "count", None, {"window": 1_000}, n]])
            expected[id] = ("stream", list(range(n)))
        elif kind == 2:
            values = [rng.randrange(100) for _ in range(rng.randrange(1, 5))]
            plan.append([[0, id, "total", None, None, values[0]], *[[1, id, v] for v in values[1:]], [3, id]])
            expected[id] = ("response", sum(values))
        else:
            values = [rng.randrange(100) for _ in range(rng.randrange(1, 5))]
            plan.append([[0, id, "echo"], *[[1, id, v] for v in values], [3, id]])
            expected[id] = ("stream", values)
    # Interleave: open every call in id order, then send the rest of each call's frames shuffled
    # between calls but in order within each call.
    first = [frames[0] for frames in plan]
    rest = [list(frames[1:]) for frames in plan]
    interleaved: list[Any] = []
    while any(rest):
        for frames in rng.sample(rest, len(rest)):
            if frames:
                interleaved.append(frames.pop(0))

    got: dict[int, list[Any]] = defaultdict(list)
    ended: dict[int, Any] = {}
    async with websockets.connect(server.url, max_size=None) as ws:
        assert decode(await ws.recv())[0] == 8

        async def send_all() -> None:
            for frame in first + interleaved:
                await ws.send(encode(frame))

        async with anyio.create_task_group() as tg:
            tg.start_soon(send_all)
            with anyio.fail_after(30):
                while len(ended) < 1000:
                    frame = decode(await ws.recv())
                    kind, id = frame[0], frame[1]
                    assert id not in ended, f"frame after the end of call {id}: {frame}"
                    if kind == 1:
                        got[id].append(frame[2])
                    elif kind == 3:
                        ended[id] = ("stream", got[id])
                    elif kind == 6:
                        ended[id] = ("response", frame[2])
                    elif kind == 5:
                        raise AssertionError(f"call {id} failed: {frame}")
    assert ended == expected


async def test_a_vanished_client_cancels_its_calls_and_leaves_no_task(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(app)
    started.clear()
    cleaned.clear()
    async with websockets.connect(server.url) as probe:
        assert decode(await probe.recv())[0] == 8
        await probe.send(encode([0, 1, "tasks", None, None, None]))
        baseline = decode(await probe.recv())[2]

        ws = await websockets.connect(server.url)
        assert decode(await ws.recv())[0] == 8
        await ws.send(encode([0, 1, "endless", None, {"window": 4}, None]))
        await ws.send(encode([0, 2, "wait", None, None, 3600]))
        assert await anyio.to_thread.run_sync(started.wait, 5)
        ws.transport.abort()  # no close handshake: the client just vanishes
        assert await anyio.to_thread.run_sync(cleaned.wait, 5)

        # Wait (bounded) for the server to finish the connection's teardown.
        id = 2
        with anyio.fail_after(5):
            while True:
                await probe.send(encode([0, id, "connections", None, None, None]))
                open_connections = decode(await probe.recv())[2]
                await probe.send(encode([0, id + 1, "tasks", None, None, None]))
                now = decode(await probe.recv())[2]
                id += 2
                if open_connections == 1 and now <= baseline:
                    break
        assert now <= baseline
