"""A Swill call with nothing but a WebSocket library and MessagePack (docs/protocol.md).

Serve the quickstart (`uvicorn examples.quickstart:app`), then run `python -m examples.raw_client`.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import msgspec
from websockets import Subprotocol
from websockets.asyncio.client import ClientConnection, connect

REQUEST, DATA, METADATA, END_OF_STREAM, CLOSE, ERROR, RESPONSE, CREDIT, HELLO = range(9)


async def send(ws: ClientConnection, *frame: Any) -> None:
    print("c→s", list(frame))
    await ws.send(msgspec.msgpack.encode(frame))  # one binary message per frame


async def receive(ws: ClientConnection) -> list[Any]:
    frame: list[Any] = msgspec.msgpack.decode(await ws.recv(decode=False))
    print("s→c", frame)
    return frame


async def main(url: str = "ws://127.0.0.1:8000/ws") -> list[list[Any]]:
    frames = []
    async with connect(url, subprotocols=[Subprotocol("swill.v1")]) as ws:
        frames.append(await receive(ws))  # HELLO: [8, 0, {settings}]

        # Unary: add(1, 2) on call id 1.
        await send(ws, REQUEST, 1, "add", None, None, [1, 2])
        frames.append(await receive(ws))  # [6, 1, 3]

        # Server streaming: count(3) on call id 3, at most 2 messages before more credit.
        await send(ws, REQUEST, 3, "count", None, {"window": 2}, 3)
        frames.append(await receive(ws))  # [1, 3, 0]
        frames.append(await receive(ws))  # [1, 3, 1]
        await send(ws, CREDIT, 3, 2)
        frames.append(await receive(ws))  # [1, 3, 2]
        frames.append(await receive(ws))  # [3, 3]
    return frames


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
