"""`swill codegen python`: generate, type-check with `mypy --strict`, call a live server."""

from __future__ import annotations

import datetime
import importlib.util
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import mypy.api
import pytest

import swill
from swill._codegen import generate_python, load_document
from swill.client import Client

from ..conftest import LiveServer
from . import catalog, edges, resumable

# Uses of the generated module that must type-check, and misuses that must not: with
# `warn_unused_ignores` (part of --strict), an ignore on a line without that error fails too.
USAGE = textwrap.dedent(
    """
    from __future__ import annotations

    from typing import assert_type

    from swill.client import Call

    from api_catalog import Api, BidiStream, Blob, Cat, ClientStream, Closed, Dog, Order, Point, SoldOut, Stock
    from api_resumable import Alert
    from api_resumable import Api as ResumableApi
    from swill import SubscriptionEvent

    async def uses(api: Api) -> None:
        assert_type(await api.add((1, 2)), int)
        assert_type(api.count(3), Call[int])
        assert_type(await api.total(), ClientStream[float, float])
        assert_type(await api.chat.echo(), BidiStream[str, str])
        assert_type(await api.pets.adopt(Cat(lives=1)), Cat | Dog)
        assert_type(await api.ping(), None)
        assert_type(await api.maybe(None), str | None)
        assert_type(await api.point(Point(1.0)), Point)
        assert_type(await api.add((1, 2), timeout=1.5, metadata={"a": 1}), int)
        async for line in await api.chat.echo(window=4):
            assert_type(line, str)
        try:
            await api.reserve(Order(qty=1, item="tea"))
        except SoldOut as error:
            assert_type(error.detail, Stock)
        except Closed as closed:
            assert_type(closed.detail, None)

    async def subscribes(api: ResumableApi) -> None:
        async for tick in api.subscribe("ticks", after=3, window=8):
            assert_type(tick, SubscriptionEvent[float])
        async for alert in api.subscribe("alerts.raised"):
            assert_type(alert.value, Alert)
        api.subscribe("count")  # type: ignore[call-overload]

    async def misuses(api: Api, blob: Blob) -> None:
        await api.add((1,))  # type: ignore[arg-type]
        api.count("3")  # type: ignore[arg-type]
        await api.ping(1)  # type: ignore[arg-type, call-arg]
        await api.add((1, 2), window=3)  # type: ignore[call-arg]
        Order(qty="2", item="tea")  # type: ignore[arg-type]
        Order(qty=2, item="tea", kind="gift")  # type: ignore[arg-type]
        Blob(data="abc", created=blob.created, big=1, small=1)  # type: ignore[arg-type]
        SoldOut("tea")  # type: ignore[arg-type]
        await (await api.total()).send("x")  # type: ignore[arg-type]
    """
)


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("python")
    (root / "api_catalog.py").write_text(generate_python(load_document(f"{catalog.__name__}:app")))
    (root / "api_quickstart.py").write_text(generate_python(load_document("examples.quickstart:app")))
    (root / "api_edges.py").write_text(generate_python(load_document(f"{edges.__name__}:app")))
    (root / "api_resumable.py").write_text(generate_python(load_document(f"{resumable.__name__}:app")))
    (root / "usage.py").write_text(USAGE)
    yield root
    for name in ("api_catalog", "api_quickstart", "api_edges", "api_resumable"):
        sys.modules.pop(name, None)


def test_generated_modules_pass_mypy_strict_and_their_types_are_tight(generated: Path) -> None:
    names = ("api_catalog.py", "api_quickstart.py", "api_edges.py", "api_resumable.py", "usage.py")
    files = [str(generated / name) for name in names]
    args = ["--strict", "--python-version", "3.11", "--cache-dir", str(generated / ".mypy_cache")]
    limit = sys.getrecursionlimit()
    try:
        stdout, stderr, status = mypy.api.run([*args, "--config-file", "", *files])
    finally:
        # mypy raises the interpreter's recursion limit for good; the rest of the session (the
        # decoder's nesting limit among others) must keep the default.
        sys.setrecursionlimit(limit)
    assert status == 0, stdout + stderr


def test_generated_module_names_and_docs(generated: Path) -> None:
    text = (generated / "api_catalog.py").read_text()
    assert 'class Cat(msgspec.Struct, kw_only=True, tag_field="type", tag="Cat"):' in text
    assert "class Point(msgspec.Struct, array_like=True):" in text
    assert 'Color: TypeAlias = Literal["red", "green"]' in text
    assert "qty: Annotated[int, msgspec.Meta(gt=0, le=1000)]" in text
    assert "data: Annotated[bytes, msgspec.Meta(max_length=1024)]" in text
    assert "created: datetime.datetime" in text
    assert "children: list[Tree] = msgspec.field(default_factory=list)" in text
    assert "weight: float | msgspec.UnsetType = msgspec.UNSET" in text  # a TypedDict's optional key
    assert '    """How many lives are left."""' in text  # the field's docstring came along
    assert '"""Count from 0 up to the given number.\n\n        The number itself is not sent.' in text
    assert "swill.introspect" not in text.split("class ChatApi")[1]  # built-ins are left out
    assert 'class SoldOut(DeclaredError[Stock], code="FAILED_PRECONDITION"):' in text
    assert 'class Closed(DeclaredError[None], code="UNAVAILABLE", name="shop.Closed"):' in text
    assert "            SoldOut: A declared error." in text  # in the method's Raises: section


async def test_generated_module_calls_a_live_server(generated: Path, live_server: Callable[..., LiveServer]) -> None:
    api_module: Any = load(generated / "api_catalog.py")
    server = live_server(catalog.app)
    now = datetime.datetime(2024, 1, 1, 12, tzinfo=datetime.UTC)
    async with Client(server.url) as client:
        api = api_module.Api(client)
        assert await api.add((1, 2)) == 3
        assert await api.add((2**60, 1)) == 2**60 + 1
        assert [i async for i in api.count(3)] == [0, 1, 2]
        async with await api.total() as total:
            await total.send(1.5)
            await total.send(2)
            await total.end()
            assert await total.result() == 3.5
        echo = await api.chat.echo()
        await echo.send("hi")
        await echo.end()
        assert [line async for line in echo] == ["HI"]
        assert await api.pets.adopt(api_module.Cat(lives=3)) == api_module.Cat(lives=2)
        assert await api.pets.adopt(api_module.Dog(name="Rex")) == api_module.Dog(name="Sir Rex")
        blob = await api.blob(api_module.Blob(data=b"abc", created=now, big=2**60, small=5))
        assert blob == api_module.Blob(data=b"cba", created=now + datetime.timedelta(days=1), big=2**61, small=-5)
        confirmed = await api.order(api_module.Order(qty=2, item="tea"))
        assert (confirmed.note, confirmed.color, confirmed.tags) == ("confirmed", "red", [])
        with pytest.raises(swill.Error) as failed:
            await api.order(api_module.Order(qty=13, item="tea"))
        assert failed.value.data == [{"path": "$.qty", "message": "13 is unlucky"}]
        tree = api_module.Tree(label="a", children=[api_module.Tree(label="b")])
        assert await api.tree(tree) == 2
        assert await api.point(api_module.Point(1.0, 2.0)) == api_module.Point(2.0, 1.0)
        assert await api.box(api_module.Box_int_(item=5)) == api_module.Box_str_(item="5")
        window = await api.window(api_module.Window(start=now))
        assert window.end == now + datetime.timedelta(hours=1)
        assert await api.tags(api_module.Tags(names=["b", "a"])) == api_module.Tags(names=["a", "b"], weight=2.0)
        assert await api.pair(api_module.Pair(1)) == api_module.Pair(2, "default")
        assert await api.ping() is None
        assert [await api.maybe(None), await api.maybe(3)] == [None, "3"]
        assert await api.lookup({1: "a", 2: "a"}) == {"a": [1, 2]}
        assert await api.colors("red") == ["green"]
        assert await api.reserve(api_module.Order(qty=2, item="tea")) == 3
        with pytest.raises(api_module.SoldOut) as sold_out:
            await api.reserve(api_module.Order(qty=9, item="tea"))
        assert sold_out.value.detail == api_module.Stock(item="tea", left=5)
        assert (sold_out.value.code, sold_out.value.message) == (swill.Code.FAILED_PRECONDITION, "only 5 tea left")
        assert isinstance(sold_out.value, swill.Error)  # `except swill.Error` still catches it
        with pytest.raises(api_module.Closed) as closed:
            await api.reserve(api_module.Order(qty=1, item="closed"))
        assert closed.value.detail is None and closed.value.message == "The shop is closed."
        with pytest.raises(swill.Error) as other:  # an error the rpc did not declare goes through
            await api.reserve(api_module.Order(qty=13, item="tea"))
        assert type(other.value) is swill.Error and other.value.code is swill.Code.INVALID_ARGUMENT
        assert await api_module.is_up_to_date(client)


async def test_awkward_names_still_make_a_working_module(
    generated: Path, live_server: Callable[..., LiveServer]
) -> None:
    api_module: Any = load(generated / "api_edges.py")
    text = (generated / "api_edges.py").read_text()
    assert 'list_: list[int] = msgspec.field(name="list")' in text  # `list` would hide the type
    assert 'Date_: float = msgspec.field(default=0.0, name="Date")' in text
    assert 'from_: str = msgspec.field(name="from")' in text
    assert 'private: bool = msgspec.field(default=False, name="_private")' in text
    assert "class Row(msgspec.Struct, array_like=True, kw_only=True):" in text
    server = live_server(edges.app)
    async with Client(server.url) as client:
        api = api_module.Api(client)
        thing = api_module.Api2(from_="x", a_b=2, private=True)
        assert await api.get_all(thing) == thing
        date = api_module.Date(list_=[1, 2], Date_=1.5)
        assert await api.class_(date) == date
        assert await api.client2() == "client"
        assert await api.chat_("a") == "a"
        assert await api.chat.echo("b") == "b"
        row = api_module.Row(blob=b"y")  # keyword arguments: `blob` has no default here
        assert await api.row(row) == row == api_module.Row(count=0, blob=b"y")
        assert api_module.Api2.__doc__.startswith(
            'Shadows the generated `Api` class. Ends a comment: */ and a docstring: """'
        )


async def test_subscribe_is_generated_for_exactly_the_resumable_rpcs(
    generated: Path, live_server: Callable[..., LiveServer]
) -> None:
    text = (generated / "api_resumable.py").read_text()
    assert text.count("    @overload\n    def subscribe(") == 2
    assert "def count(" in text and 'Literal["count"]' not in text
    assert "api_resumable" not in (generated / "api_catalog.py").read_text()
    assert "def subscribe(" not in (generated / "api_catalog.py").read_text()
    api_module: Any = load(generated / "api_resumable.py")
    server = live_server(resumable.make_app())
    async with Client(server.url) as client:
        api = api_module.Api(client)
        await api.publish(1.5)
        await api.publish(2.5)
        ticks = api.subscribe("ticks", after=None)
        first = await anext(ticks)
        assert (first.value, first.missed, first.restarted) == (2.5, 0, False)  # the replayed one
        await ticks.aclose()
        alerts = api.subscribe("alerts.raised")
        alert = await anext(alerts)
        assert alert.value == api_module.Alert(level="2.5")
        await alerts.aclose()
