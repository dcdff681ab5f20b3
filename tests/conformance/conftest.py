"""A raw PROTOCOL.md client and the app the conformance tests talk to."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import msgspec
import pytest
import websockets

from tests.conftest import LiveServer, decode, encode

from .app import app as conformance_app


class RawClient:
    """Frames in, frames out, over a real WebSocket; every wait has a timeout."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.pending: list[Any] = []

    async def send(self, *frames: Any) -> None:
        for frame in frames:
            await self.ws.send(frame if isinstance(frame, (bytes, str)) else encode(frame))

    async def recv(self, wait: float = 5.0) -> Any:
        if self.pending:
            return self.pending.pop(0)
        with anyio.fail_after(wait):
            return decode(await self.ws.recv())

    async def recv_for(self, id: int, wait: float = 5.0, *, credit: bool = True) -> Any:
        """The next frame for call `id`, keeping others for later (dropping CREDIT unless `credit`)."""
        for index, frame in enumerate(self.pending):
            if frame[1] == id and (credit or frame[0] != 7):
                return self.pending.pop(index)
        with anyio.fail_after(wait):
            while True:
                frame = decode(await self.ws.recv())
                if frame[1] == id and (credit or frame[0] != 7):
                    return frame
                if frame[1] != id:
                    self.pending.append(frame)

    async def until_end(self, id: int) -> list[Any]:
        """Every frame of call `id` up to the one that ends it."""
        frames = []
        while True:
            frame = await self.recv_for(id)
            frames.append(frame)
            if frame[0] in (3, 5, 6):
                return frames

    async def nothing_for(self, id: int) -> None:
        """Assert that call `id` gets no frame, using a PING round trip as the barrier."""
        await self.send([9, 424242])
        while True:
            frame = await self.recv()
            if frame == [10, 424242]:
                break
            assert frame[1] != id, f"unexpected frame for call {id}: {frame}"
            self.pending.append(frame)


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = LiveServer(conformance_app)
    live.start()
    yield live
    live.stop()


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[RawClient]:
    async with websockets.connect(server.url, subprotocols=[websockets.Subprotocol("swill.v1")]) as ws:
        raw = RawClient(ws)
        hello = await raw.recv()
        assert hello[0] == 8
        yield raw


__all__ = ["RawClient", "msgspec"]
