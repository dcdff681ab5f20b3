"""Client metadata, leading and trailing metadata (docs/metadata.md).

Serve it with `swill run examples.metadata:app`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec

import swill

app = swill.Swill(__name__)

GREETINGS = {"en": "Hello", "fr": "Bonjour", "de": "Hallo"}


@app.handle()
async def greet(request: swill.Request[str], response: swill.Response) -> str:
    """Greet in the language the client asked for in its metadata."""
    language = request.metadata.get("language", "en")
    if language not in GREETINGS:
        language = "en"
    response.leading_metadata["content-language"] = language
    response.trailing_metadata["length"] = len(request.data)
    return f"{GREETINGS[language]}, {request.data}"


class Row(msgspec.Struct):
    n: int
    square: int


@app.handle()
async def table(request: swill.Request[int], response: swill.Response) -> AsyncIterator[Row]:
    """Stream rows; the row count goes out first, a checksum after the last row."""
    response.leading_metadata["rows"] = request.data
    # Send it now, so the client can size its view before the first row is ready.
    await response.send_leading_metadata()
    checksum = 0
    for n in range(request.data):
        checksum += n * n
        yield Row(n, n * n)
    response.trailing_metadata["checksum"] = checksum
