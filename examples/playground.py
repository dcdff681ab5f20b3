"""A demo app for the playground (docs/playground.md): every call kind, constraints, metadata,
bytes, dates and errors.

Serve it with `swill run examples.playground:app` and open http://127.0.0.1:8000/swill.
"""

from __future__ import annotations

import datetime
import enum
import hashlib
import math
import random
from collections.abc import AsyncIterator
from typing import Annotated, Any

import annotated_types as at
import anyio
import msgspec

import swill

__all__ = ["app", "make_app"]


class Priority(enum.Enum):
    """How soon a note needs attention."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class NewNote(swill.ValidatedStruct, forbid_unknown_fields=True):
    """A note to add."""

    title: Annotated[str, at.MinLen(1), at.MaxLen(80)]
    """What the note is about."""
    body: str = ""
    tags: Annotated[list[Annotated[str, at.MinLen(1)]], at.MaxLen(5)] = msgspec.field(default_factory=list)
    priority: Priority = Priority.NORMAL
    due: datetime.datetime | None = None
    """When it is due, with a timezone."""

    @swill.validator("tags")
    def distinct(self, tags: list[str]) -> None:
        """A check only the server makes: the schema can't say it."""
        if len(set(tags)) != len(tags):
            raise ValueError("tags must be distinct")


class Note(msgspec.Struct):
    """A stored note."""

    id: int
    title: str
    body: str
    tags: list[str]
    priority: Priority
    due: datetime.datetime | None
    created: datetime.datetime


class NoteFilter(msgspec.Struct):
    """Which notes to list."""

    tag: str | None = None
    limit: Annotated[int, at.Ge(1), at.Le(100)] = 10


class Watch(msgspec.Struct):
    """A sensor to follow."""

    sensor: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9-]*$")] = "boiler"
    interval_ms: Annotated[int, at.Ge(10), at.Le(5000)] = 500
    count: Annotated[int, at.Ge(1)] | None = None
    """Stop after this many readings; forever when null."""


class Reading(msgspec.Struct):
    sensor: str
    at: datetime.datetime
    celsius: float


class Summary(msgspec.Struct):
    count: int
    mean: float
    low: float | None
    high: float | None


class Line(msgspec.Struct):
    author: Annotated[str, at.MinLen(1), at.MaxLen(20)]
    text: Annotated[str, at.MaxLen(500)]


class Digest(msgspec.Struct):
    size: int
    sha256: str
    head: bytes
    """The first 8 bytes."""


class NoteRef(msgspec.Struct):
    id: int


class NoSuchNote(swill.DeclaredError[NoteRef], code=swill.Code.NOT_FOUND):
    """There is no note with that id."""


def make_app() -> swill.Swill:
    """A fresh demo app, with its own notes."""
    app = swill.Swill(__name__)
    notes_router = swill.Router(prefix="notes")
    sensors = swill.Router(prefix="sensors")
    chat = swill.Router(prefix="chat")
    files = swill.Router(prefix="files")
    now = datetime.datetime(2025, 5, 1, 9, 30, tzinfo=datetime.UTC)
    notes: dict[int, Note] = {
        1: Note(1, "Water the plants", "The fern too.", ["home"], Priority.LOW, None, now),
        2: Note(2, "Ship the release", "", ["work", "urgent"], Priority.HIGH, now + datetime.timedelta(days=2), now),
    }

    @app.handle()
    async def add(request: swill.Request[tuple[int, int]]) -> int:
        """Add two integers."""
        return request.data[0] + request.data[1]

    @app.handle()
    async def whoami(request: swill.Request[None], response: swill.Response) -> dict[str, Any]:
        """Echo the call's metadata back, with leading and trailing metadata of its own.

        Send `{"user": "ada"}` as metadata and read it back in the response; the server adds
        `server-time` as leading metadata and `elapsed-us` as trailing metadata.
        """
        response.leading_metadata["server-time"] = datetime.datetime.now(datetime.UTC).isoformat()
        response.trailing_metadata["elapsed-us"] = 42
        return {"metadata": dict(request.metadata), "rpc": request.rpc}

    @notes_router.handle()
    async def create(request: swill.Request[NewNote]) -> Note:
        """Add a note and return it with its id."""
        new = request.data
        note_id = max(notes, default=0) + 1
        created = datetime.datetime.now(datetime.UTC)
        notes[note_id] = Note(note_id, new.title, new.body, new.tags, new.priority, new.due, created)
        return notes[note_id]

    @notes_router.handle(errors=[NoSuchNote])
    async def get(request: swill.Request[Annotated[int, at.Gt(0)]]) -> Note:
        """One note by id; the declared error `NoSuchNote` when there is none."""
        try:
            return notes[request.data]
        except KeyError:
            raise NoSuchNote(NoteRef(request.data), f"no note {request.data}") from None

    @notes_router.handle(name="list")
    async def list_notes(request: swill.Request[NoteFilter]) -> AsyncIterator[Note]:
        """Stream the notes, oldest first, optionally only those with a tag."""
        sent = 0
        for note in list(notes.values()):
            if sent < request.data.limit and (request.data.tag is None or request.data.tag in note.tags):
                sent += 1
                yield note

    @sensors.handle()
    async def watch(request: swill.Request[Watch]) -> AsyncIterator[Reading]:
        """Readings of a sensor, one every `interval_ms`, until cancelled or `count` is reached."""
        rng = random.Random(request.data.sensor)
        sent = 0
        while request.data.count is None or sent < request.data.count:
            celsius = round(20 + 5 * math.sin(sent / 3) + rng.random(), 2)
            yield Reading(request.data.sensor, datetime.datetime.now(datetime.UTC), celsius)
            sent += 1
            await anyio.sleep(request.data.interval_ms / 1000)

    @sensors.handle()
    async def summarize(request: swill.StreamingRequest[float]) -> Summary:
        """Client streaming: send readings, end the stream, get their summary."""
        values = [value async for value in request]
        mean = sum(values) / len(values) if values else 0.0
        return Summary(len(values), mean, min(values, default=None), max(values, default=None))

    @chat.handle()
    async def room(request: swill.StreamingRequest[Line]) -> AsyncIterator[Line]:
        """Bidirectional: every line is answered by the echo bot as soon as it arrives."""
        async for line in request:
            yield Line("echo-bot", f"{line.author} said: {line.text}")

    @files.handle()
    async def checksum(request: swill.Request[Annotated[bytes, at.MaxLen(1 << 16)]]) -> Digest:
        """Hash bytes (base64 in the editor)."""
        return Digest(len(request.data), hashlib.sha256(request.data).hexdigest(), request.data[:8])

    app.include_router(notes_router)
    app.include_router(sensors)
    app.include_router(chat)
    app.include_router(files)
    return app


app = make_app()
