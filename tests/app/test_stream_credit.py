"""A streamed response that waited for credit hands its next message to the writer at once, so
that the client's next message is on its way while the handler produces the rest."""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import swill
from tests.app.test_connection_io import Peer
from tests.conftest import decode

app = swill.Swill(__name__)
produced: list[int] = []


@app.handle()
async def numbers(request: swill.Request[int]) -> AsyncIterator[int]:
    for i in range(request.data):  # never awaits: only Swill decides when the writer runs
        produced.append(i)
        yield i


class Recorder(Peer):
    """Records, for each DATA frame written, how many messages the handler had produced then."""

    def __init__(self, *args: Any) -> None:
        self.produced_when_sent: list[int] = []
        super().__init__(*args)

    async def _send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "websocket.send" and decode(message["bytes"])[0] == 1:
            self.produced_when_sent.append(len(produced))
        await super()._send(message)


async def test_the_first_message_after_a_credit_wait_goes_out_before_the_next_is_produced() -> None:
    produced.clear()
    peer = Recorder(app, [0, 1, "numbers", None, {"window": 64}, 200])
    await peer.wait_for(lambda: len(peer.produced_when_sent) == 64)  # then the stream waits for credit
    assert len(produced) == 65  # the 65th waits in Swill for credit
    peer.send_frame([7, 1, 64])
    await peer.wait_for(lambda: len(peer.produced_when_sent) == 128)
    # Without the hand-over the handler would produce all 64 before the first of them went out.
    assert peer.produced_when_sent[64] <= 66
    await peer.disconnect()
