"""When each request hook runs, in which order, and what it may change: the four call kinds and
every way a call ends (DESIGN.md, "Lifecycle hook chains" and "Semantics in detail")."""

from __future__ import annotations

from typing import Any

import pytest
from websockets.exceptions import ConnectionClosedError

from swill._hooks import REQUEST_HOOKS
from tests.conftest import LiveServer

from .app import LAYERS, recorder
from .conftest import Session, session

BR, MD, DATA, MSG, LEAD, RM, TRAIL, AFTER = REQUEST_HOOKS
H = "handler"

RPC = {kind: f"outer.inner.{kind}" for kind in ("unary", "server_stream", "client_stream", "bidi")}
KINDS = list(RPC)

# The hooks of a successful call, in time order, for what `opening` sends.
SUCCESS = {
    "unary": [BR, MD, DATA, MSG, H, LEAD, RM, TRAIL, AFTER],
    "server_stream": [BR, MD, DATA, MSG, H, LEAD, RM, RM, TRAIL, AFTER],
    "client_stream": [BR, MD, H, DATA, MSG, DATA, MSG, LEAD, RM, TRAIL, AFTER],
    "bidi": [BR, MD, H, DATA, MSG, LEAD, RM, DATA, MSG, RM, TRAIL, AFTER],
}
SUCCESS_FRAMES: dict[str, list[Any]] = {
    "unary": [[6, 1, 2, {"kind": "unary"}, {"done": True}]],
    "server_stream": [[2, 1, {"kind": "server_stream"}], [1, 1, 1], [1, 1, 2], [3, 1, {"done": True}]],
    "client_stream": [[6, 1, 3, None, None]],
    "bidi": [[1, 1, 2], [1, 1, 3], [3, 1, None]],
}


def opening(kind: str, id: int = 1) -> list[Any]:
    """The frames a test sends for a call of `kind`: 1 as the request, or 1 and 2 as the stream."""
    if kind in ("unary", "server_stream"):
        return [[0, id, RPC[kind], None, None, 1]]
    return [[0, id, RPC[kind], None, None, 1], [1, id, 2], [3, id]]


def expand(steps: list[str], layers: tuple[str, ...] = LAYERS) -> list[tuple[str, str]]:
    """Each chain's hooks, one per layer, in order; the handler is one step."""
    return [(step, "") if step == H else (step, layer) for step in steps for layer in (layers if step != H else "_")]


def steps(records: list[tuple[int, str, str, Any]]) -> list[tuple[str, str]]:
    return [(chain, layer) for _, chain, layer, _ in records if chain != "held"]


async def ended(s: Session, id: int = 1, last: str = "inner") -> list[tuple[int, str, str, Any]]:
    """The call's records, once its last after_request hook ran."""
    await recorder.wait_for(s.key, AFTER, last, id)
    return recorder.records(s.key, id)


async def frames_until_end(s: Session, id: int = 1) -> list[Any]:
    return [frame for frame in await s.client.until_end(id) if frame[0] != 7]


async def reached(s: Session, hooks: list[str], id: int = 1) -> None:
    """Wait until the call's hooks up to `hooks` (expanded) have run."""
    count = len(expand(hooks))
    await recorder.wait(s.key, lambda records: len([r for r in records if r[0] == id]) >= count)


async def nothing_but_credit(s: Session, id: int) -> None:
    """Assert that call `id` gets no frame but CREDIT (which may have been on its way), using a
    PING round trip as the barrier."""
    await s.client.send([9, 4242])
    while (frame := await s.client.recv()) != [10, 4242]:
        assert frame[1] != id or frame[0] == 7, f"unexpected frame for call {id}: {frame}"


def after_details(records: list[tuple[int, str, str, Any]]) -> set[Any]:
    return {detail for _, chain, _, detail in records if chain == AFTER}


# Success: order, router layering, and after_request after the last frame.


@pytest.mark.parametrize("kind", KINDS)
async def test_hooks_run_in_time_order_app_first_then_routers_outer_to_inner(server: LiveServer, kind: str) -> None:
    async with session(server) as s:
        await s.client.send(*opening(kind))
        assert await frames_until_end(s) == SUCCESS_FRAMES[kind]
        records = await ended(s)
    assert steps(records) == expand(SUCCESS[kind])
    assert after_details(records) == {(None, False)}


async def test_what_each_hook_receives_in_a_unary_call(server: LiveServer) -> None:
    async with session(server) as s:
        await s.client.send([0, 1, RPC["unary"], {"m": 1}, None, 1])
        await frames_until_end(s)
        records = await ended(s)
    received = {chain: detail for _, chain, layer, detail in records if layer in ("inner", "")}
    assert received == {
        BR: "outer.inner.unary",  # request.rpc is the full name
        MD: {"m": 1},
        DATA: 1,
        MSG: 1,
        H: {"m": 1},
        LEAD: {"kind": "unary"},
        RM: 2,
        TRAIL: {"done": True},
        AFTER: (None, False),
    }


@pytest.mark.parametrize("kind", KINDS)
async def test_after_request_runs_after_the_last_frame_went_out(server: LiveServer, kind: str) -> None:
    # The app's async after_request hook waits until the test has the call's last frame; had it
    # run before that frame was sent, the test would never get the frame.
    async with session(server, hold=1) as s:
        await s.client.send(*opening(kind))
        await frames_until_end(s)
        recorder.hold(s.key).set()
        await recorder.wait_for(s.key, "held", "app.async", 1)
        records = await ended(s)
    assert [detail for _, chain, _, detail in records if chain == "held"] == [True]


async def test_router_hooks_apply_only_to_their_own_handlers(server: LiveServer) -> None:
    async with session(server) as s:
        await s.client.send([0, 1, "plain", None, None, 5], [0, 2, "outer.only", None, None, 6])
        assert await s.client.recv_for(1) == [6, 1, 5, None, None]
        assert await s.client.recv_for(2) == [6, 2, 6, None, None]
        plain = await ended(s, 1, last="app.async")
        only = await ended(s, 2, last="outer")
    success = [BR, MD, DATA, MSG, H, LEAD, RM, TRAIL, AFTER]
    assert steps(plain) == expand(success, ("app.sync", "app.async"))
    assert steps(only) == expand(success, ("app.sync", "app.async", "outer"))


# Replacements: each hook gets what the one before returned; the last one's is what is used.

REPLACED_FRAMES: dict[str, list[Any]] = {
    # 1 in: each data hook makes x*10+digit (1234), then each message hook does the same; the
    # handler adds 1, then each response message hook again; metadata records who touched it.
    "unary": [[6, 1, 1123412351234, {"kind": "unary", "order": "saoi"}, {"done": True, "order": "saoi"}]],
    "server_stream": [
        [2, 1, {"kind": "server_stream", "order": "saoi"}],
        [1, 1, 1123412341234],
        [1, 1, 1123412351234],
        [3, 1, {"done": True, "order": "saoi"}],
    ],
    # 1 and 2 in, each through 8 hooks; the sum, then 4 more.
    "client_stream": [[6, 1, (112341234 + 212341234) * 10000 + 1234, {"order": "saoi"}, {"order": "saoi"}]],
    "bidi": [
        [2, 1, {"order": "saoi"}],
        [1, 1, 1123412351234],
        [1, 1, 2123412351234],
        [3, 1, {"order": "saoi"}],
    ],
}


@pytest.mark.parametrize("kind", KINDS)
async def test_every_hook_may_return_a_replacement(server: LiveServer, kind: str) -> None:
    async with session(server, replace="all") as s:
        await s.client.send(*opening(kind))
        assert await frames_until_end(s) == REPLACED_FRAMES[kind]
        records = await ended(s)
    [handler_saw] = [detail for _, chain, _, detail in records if chain == H]
    assert handler_saw == {"order": "saoi"}
    # Each hook of a chain received what the one before it returned.
    metadata = [detail for _, chain, _, detail in records if chain == MD]
    assert metadata == [{}, {"order": "s"}, {"order": "sa"}, {"order": "sao"}]
    assert [detail for _, chain, _, detail in records if chain == DATA][:4] == [1, 11, 112, 1123]


async def test_a_data_hook_may_return_bytes_raw_or_a_value_and_it_is_still_validated(server: LiveServer) -> None:
    # app.sync returns bytes, outer a msgspec.Raw, app.async and inner Python values.
    async with session(server, replace=["app.sync.before_request_data", "outer.before_request_data"]) as s:
        await s.client.send([0, 1, RPC["unary"], None, None, 1])
        assert (await s.client.recv())[:3] == [6, 1, 114]  # (1*10+1)*10+3, plus 1
    async with session(server, replace="inner.before_request_data") as s:
        await s.client.send([0, 1, RPC["unary"], None, None, 1.5])
        frame = await s.client.recv()
        # The client's 1.5 is not an int, but the hooks see it before decoding; 1.5*10+4 isn't either.
        assert frame[:3] == [5, 1, "INVALID_ARGUMENT"]
        assert frame[4] == [{"path": "$", "message": "Expected `int`, got `float`"}]


# Refusals: a hook that raises swill.Error ends the call with it; the rest of its chain and the
# handler (if it had not started) never run; the outgoing metadata hooks that had not run yet
# still run once, and after_request always does.

REFUSABLE = [BR, MD, DATA, MSG, LEAD, RM, TRAIL]


def refused_steps(kind: str, chain: str) -> list[tuple[str, str]]:
    success = SUCCESS[kind]
    before = success[: success.index(chain)]
    tail = [] if chain == TRAIL else [TRAIL]
    if LEAD not in before and chain != LEAD:
        tail = [LEAD, *tail]
    return [*expand(before), (chain, "app.sync"), (chain, "app.async"), *expand([*tail, AFTER])]


def refused_trailing(kind: str, chain: str, by: str) -> dict[str, Any]:
    if kind == "unary" and chain in (LEAD, RM):
        return {"done": True, "by": by}  # the handler had filled its trailing metadata
    return {"by": by}


@pytest.mark.parametrize("chain", REFUSABLE)
@pytest.mark.parametrize("kind", KINDS)
async def test_a_hook_that_raises_error_refuses_the_call(server: LiveServer, kind: str, chain: str) -> None:
    hook = f"app.async.{chain}"
    async with session(server, refuse=hook) as s:
        await s.client.send(*opening(kind))
        frames = await frames_until_end(s)
        records = await ended(s)
    assert frames[-1] == [5, 1, "PERMISSION_DENIED", f"refused by {hook}", None, refused_trailing(kind, chain, hook)]
    assert not [f for f in frames if f[0] == 6]
    assert steps(records) == refused_steps(kind, chain)
    assert after_details(records) == {("PERMISSION_DENIED", False)}


@pytest.mark.parametrize("layer", LAYERS)
async def test_each_layer_can_refuse(server: LiveServer, layer: str) -> None:
    hook = f"{layer}.{BR}"
    async with session(server, refuse=hook) as s:
        await s.client.send(*opening("unary"))
        assert (await s.client.recv())[:4] == [5, 1, "PERMISSION_DENIED", f"refused by {hook}"]
        records = await ended(s)
    ran = [layer for _, chain, layer, _ in records if chain == BR]
    assert ran == list(LAYERS[: LAYERS.index(layer) + 1])
    assert H not in [chain for _, chain, _, _ in records]


async def test_a_hook_that_raises_another_exception_is_internal_and_logged(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with session(server, crash="outer.before_request_message") as s:
        await s.client.send([0, 1, RPC["unary"], None, None, 1])
        assert await s.client.recv() == [5, 1, "INTERNAL", "internal error", None, None]
        await ended(s)
        # The connection goes on.
        await s.client.send([0, 2, "plain", None, None, 7])
        assert await s.client.recv() == [6, 2, 7, None, None]
    assert any(r.name == "swill" and r.exc_info and "crash in outer" in str(r.exc_info[1]) for r in caplog.records)


async def test_exception_handlers_apply_to_hooks(server: LiveServer) -> None:
    async with session(server, lookup="inner.before_leading_metadata") as s:
        await s.client.send([0, 1, RPC["unary"], None, None, 1])
        frame = await s.client.recv()
        assert frame == [5, 1, "NOT_FOUND", "not found: 'inner.before_leading_metadata'", None, {"done": True}]
        records = await ended(s)
    assert after_details(records) == {("NOT_FOUND", False)}


@pytest.mark.parametrize("failing", ["crash", "refuse"])
async def test_every_after_request_hook_runs_even_if_one_fails(
    server: LiveServer, caplog: pytest.LogCaptureFixture, failing: str
) -> None:
    async with session(server, **{failing: "app.sync.after_request"}) as s:
        await s.client.send([0, 1, RPC["unary"], None, None, 1])
        assert (await s.client.recv())[:3] == [6, 1, 2]
        records = await ended(s)
        await s.client.send([0, 2, "plain", None, None, 7])
        assert await s.client.recv() == [6, 2, 7, None, None]
    assert [layer for _, chain, layer, _ in records if chain == AFTER] == list(LAYERS)
    assert any(r.name == "swill" and "after_request" in r.getMessage() and r.exc_info for r in caplog.records)


# Every other way a call ends.


# What has run, and been sent, when a handler reaches its `_finish` (see app.py).
PROLOGUE: dict[str, tuple[list[str], list[Any]]] = {
    "unary": ([BR, MD, DATA, MSG, H], []),
    "server_stream": ([BR, MD, DATA, MSG, H, LEAD, RM, RM], SUCCESS_FRAMES["server_stream"][:3]),
    "client_stream": ([BR, MD, H, DATA, MSG, DATA, MSG], []),
    "bidi": ([BR, MD, H, DATA, MSG, LEAD, RM, DATA, MSG, RM], SUCCESS_FRAMES["bidi"][:2]),
}


def failed(kind: str, code: str, message: str, trailing: dict[str, Any], cancelled: bool = False) -> Any:
    """The hooks and frames of a call of `kind` whose handler failed after its normal work."""
    hooks, frames = PROLOGUE[kind]
    if kind in ("unary", "client_stream"):
        hooks = [*hooks, LEAD]
        if kind == "unary":
            frames = [*frames, [2, 1, {"kind": "unary"}]]
    if kind in ("unary", "server_stream"):
        trailing = {"done": True, **trailing}
    return [*hooks, TRAIL, AFTER], [*frames, [5, 1, code, message, None, trailing or None]], (code, cancelled)


ENDINGS = {
    "error": ("ABORTED", "handler error", {"e": 1}),
    "crash": ("INTERNAL", "internal error", {}),
    "lookup": ("NOT_FOUND", "not found: 'thing'", {}),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
@pytest.mark.parametrize("kind", KINDS)
async def test_a_failing_handler(server: LiveServer, kind: str, ending: str) -> None:
    hooks, frames, after = failed(kind, *ENDINGS[ending])
    async with session(server, handler=ending) as s:
        await s.client.send(*opening(kind))
        assert await frames_until_end(s) == frames
        records = await ended(s)
    assert steps(records) == expand(hooks)
    assert after_details(records) == {after}


@pytest.mark.parametrize("kind", KINDS)
async def test_a_deadline(server: LiveServer, kind: str) -> None:
    hooks, frames, after = failed(kind, "DEADLINE_EXCEEDED", "the call's deadline passed", {}, cancelled=True)
    async with session(server, handler="hang") as s:
        first, *rest = opening(kind)
        await s.client.send([*first[:4], {"timeout": 500}, first[5]], *rest)
        assert await frames_until_end(s) == frames
        records = await ended(s)
    assert steps(records) == expand(hooks)
    assert after_details(records) == {after}


@pytest.mark.parametrize("kind", KINDS)
async def test_a_close_frame_cancels_and_no_outgoing_hook_runs(server: LiveServer, kind: str) -> None:
    hooks, frames = PROLOGUE[kind]
    async with session(server, handler="hang") as s:
        await s.client.send(*opening(kind))
        await reached(s, hooks)
        for frame in frames:
            assert await s.client.recv_for(1, credit=False) == frame
        await s.client.send([4, 1, "bored"])
        records = await ended(s)
        await nothing_but_credit(s, 1)
    assert steps(records) == expand([*hooks, AFTER])
    assert after_details(records) == {("CANCELLED", True)}


@pytest.mark.parametrize("kind", KINDS)
async def test_a_lost_connection_cancels_then_after_connection_runs(server: LiveServer, kind: str) -> None:
    hooks, _ = PROLOGUE[kind]
    async with session(server, handler="hang") as s:
        await s.client.send(*opening(kind))
        await reached(s, hooks)
    records = await ended(s)
    await recorder.wait_for(s.key, "after_connection", "app.async")
    assert steps(records) == expand([*hooks, AFTER])
    assert after_details(records) == {("CANCELLED", True)}
    chains = [chain for _, chain, _, _ in recorder.records(s.key)]
    assert chains.index("after_connection") > max(i for i, chain in enumerate(chains) if chain == AFTER)


async def test_a_handler_that_closes_its_connection(server: LiveServer) -> None:
    async with session(server, handler="close") as s:
        await s.client.send(*opening("unary"))
        with pytest.raises(ConnectionClosedError) as info:
            await s.client.recv()
        records = await ended(s)
    assert info.value.rcvd is not None
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4000, "closed by the handler")
    assert after_details(records) == {("CANCELLED", True)}
    await recorder.wait_for(s.key, "after_connection", "app.async")


async def test_invalid_data(server: LiveServer) -> None:
    async with session(server) as s:
        await s.client.send([0, 1, RPC["unary"], None, None, "x"])
        assert (await s.client.recv())[:3] == [5, 1, "INVALID_ARGUMENT"]
        records = await ended(s)
    # The data hooks saw it; it never became a message; the handler never ran.
    assert steps(records) == expand([BR, MD, DATA, LEAD, TRAIL, AFTER])
    assert after_details(records) == {("INVALID_ARGUMENT", False)}


async def test_missing_data(server: LiveServer) -> None:
    async with session(server) as s:
        await s.client.send([0, 1, RPC["unary"]])
        assert (await s.client.recv())[:3] == [5, 1, "INVALID_ARGUMENT"]
        records = await ended(s)
    assert steps(records) == expand([BR, MD, LEAD, TRAIL, AFTER])
    assert after_details(records) == {("INVALID_ARGUMENT", False)}


async def test_invalid_message_in_a_stream(server: LiveServer) -> None:
    async with session(server) as s:
        await s.client.send([0, 1, RPC["client_stream"], None, None, 1], [1, 1, "x"])
        assert (await s.client.recv_for(1, credit=False))[:3] == [5, 1, "INVALID_ARGUMENT"]
        records = await ended(s)
    assert steps(records) == expand([BR, MD, H, DATA, MSG, DATA, LEAD, TRAIL, AFTER])
    assert after_details(records) == {("INVALID_ARGUMENT", False)}


async def test_data_for_a_single_request_call(server: LiveServer) -> None:
    async with session(server, handler="hang") as s:
        await s.client.send(*opening("unary"))
        await recorder.wait_for(s.key, H, "")
        await s.client.send([1, 1, 5])
        assert (await s.client.recv_for(1))[:3] == [2, 1, {"kind": "unary"}]
        assert (await s.client.recv_for(1))[:3] == [5, 1, "INVALID_ARGUMENT"]
        records = await ended(s)
    assert steps(records) == expand([BR, MD, DATA, MSG, H, LEAD, TRAIL, AFTER])
    assert after_details(records) == {("INVALID_ARGUMENT", False)}
