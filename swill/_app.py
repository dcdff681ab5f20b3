"""`Swill`, the ASGI app, and `Router`, a group of handlers under a name prefix."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, overload

import anyio
import anyio.lowlevel
from starlette.applications import Starlette
from starlette.routing import BaseRoute, WebSocketRoute

from . import __version__
from ._asgi import ConnectionHandler
from ._connection import Connection
from ._declared import DeclaredError
from ._hooks import CONNECTION_HOOKS, ConnectionHooks, HookRegistry, RouteHooks
from ._integers import safe_integer_rules
from ._origins import local_origins_from_environment, origin_refusal
from ._protocol import SUBPROTOCOL, Settings
from ._registry import RESERVED_PREFIX, HandlerSpec, Invoke, spec_from_function
from ._shutdown import drain_on_signals
from ._validation import TypeCodec

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from ._call import ServerCall
    from ._observe import Observer
    from ._topics import Topic

__all__ = ["Route", "Router", "Swill"]

logger = logging.getLogger("swill")

F = TypeVar("F", bound=Callable[..., Any])
E = TypeVar("E", bound=BaseException)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Route:
    """A handler with the hooks that apply to it, as the server uses it."""

    spec: HandlerSpec
    hooks: RouteHooks
    check_response: Callable[[Any], None] | None = None
    """Raises `UnsafeInteger` for a message with an int typed as a number beyond ±(2^53 - 1)."""
    request_stream: bool = field(init=False)
    """The spec's, as a field: the core reads it for every REQUEST."""
    routine: bool = field(init=False)
    """No incoming hooks, and an async handler that takes one message and no `Response`: most
    unary calls, which `ServerCall` serves in fewer steps."""

    def __post_init__(self) -> None:
        spec, hooks = self.spec, self.hooks
        object.__setattr__(self, "request_stream", spec.request_stream)
        incoming_hooks = (
            hooks.before_request
            or hooks.before_request_metadata
            or hooks.before_request_data
            or hooks.before_request_message
        )
        routine = spec.invoke is Invoke.ASYNC and not spec.takes_response and not spec.request_stream
        object.__setattr__(self, "routine", routine and not incoming_hooks)


class _Handlers(HookRegistry):
    """What `Swill` and `Router` share: handlers, request hooks and included routers."""

    def __init__(self) -> None:
        super().__init__()
        self.handlers: dict[str, HandlerSpec] = {}
        self.routers: list[Router] = []

    @overload
    def handle(self, fn: F, /) -> F: ...

    @overload
    def handle(
        self, fn: None = None, /, *, name: str | None = None, errors: Iterable[type[DeclaredError[Any]]] = ()
    ) -> Callable[[F], F]: ...

    def handle(
        self,
        fn: F | None = None,
        /,
        *,
        name: str | None = None,
        errors: Iterable[type[DeclaredError[Any]]] = (),
    ) -> F | Callable[[F], F]:
        """Register a handler; its rpc name defaults to the function's name.

        Args:
            name: The rpc name, e.g. `"chat.echo"` (a router adds its prefix).
            errors: The declared errors (`swill.DeclaredError` subclasses) the rpc may end with,
                for introspection, codegen and the playground (docs/errors.md).

        Raises:
            TypeError: The function's signature is not a handler's, or `errors` holds something
                that is not a declared error class.
            ValueError: The name is taken, or under `swill.`; two declared errors share a name.
        """

        def register(fn: F) -> F:
            self.add_handler(fn, name=name, errors=errors)
            return fn

        return register(fn) if fn is not None else register

    def add_handler(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        errors: Iterable[type[DeclaredError[Any]]] = (),
    ) -> HandlerSpec:
        """Register `fn` as a handler (what `@handle()` does)."""
        return self._add_handler(fn, name=name, errors=errors)

    def _add_handler(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        builtin: bool = False,
        errors: Iterable[type[DeclaredError[Any]]] = (),
    ) -> HandlerSpec:
        """`add_handler`, for Swill's own rpcs too (`builtin`: under the reserved `swill.`)."""
        spec = spec_from_function(fn, name or fn.__name__, builtin=builtin, errors=errors)
        self._check_unique(spec.name, spec)
        self.handlers[spec.name] = spec
        self._hooks_changed()
        return spec

    def include_router(self, router: Router) -> None:
        """Serve `router`'s handlers as `<prefix>.<name>`, with its request hooks after ours."""
        if router is self:
            raise ValueError("a router can't include itself")
        for name, spec, _ in router._walk(f"{router.prefix}.", ()):
            self._check_unique(name, spec)
        self.routers.append(router)
        router._parents.append(self)
        self._hooks_changed()

    def _find(self, name: str) -> HandlerSpec | None:
        """The handler served as `name` below this registry, if any."""
        spec = self.handlers.get(name)
        for router in self.routers:
            if spec is None and name.startswith(f"{router.prefix}."):
                spec = router._find(name[len(router.prefix) + 1 :])
        return spec

    def _served_as(self, name: str) -> Iterator[tuple[_Handlers, str]]:
        """Each registry that serves a handler named `name` here, with the name it has there."""
        yield self, name

    def _check_unique(self, name: str, spec: HandlerSpec) -> None:
        # Wherever the new handler is served (routers may be included already), no other may be.
        for registry, full_name in self._served_as(name):
            existing = registry._find(full_name)
            if existing is not None:
                raise ValueError(
                    f"rpc {full_name!r} is registered twice: {existing.function_name} and {spec.function_name}"
                )

    def _walk(
        self, prefix: str, chain: tuple[HookRegistry, ...]
    ) -> Iterator[tuple[str, HandlerSpec, tuple[HookRegistry, ...]]]:
        """Every handler below, with its full name and the hook registries that apply, outer first."""
        chain = (*chain, self)
        for name, spec in self.handlers.items():
            yield (f"{prefix}{name}", spec, chain)
        for router in self.routers:
            yield from router._walk(f"{prefix}{router.prefix}.", chain)


class Router(_Handlers):
    """A group of handlers served under `prefix.` with request hooks of its own.

    Args:
        prefix: The name prefix, e.g. `"users"` for `users.get`; may contain dots.

    Raises:
        ValueError: An empty prefix or one under `swill`.
    """

    def __init__(self, prefix: str) -> None:
        if not prefix or prefix.startswith(".") or prefix.endswith("."):
            raise ValueError(f"a router's prefix must be a non-empty name, got {prefix!r}")
        if prefix == "swill" or prefix.startswith(RESERVED_PREFIX):
            raise ValueError(f"router prefix {prefix!r} is reserved")
        super().__init__()
        self.prefix = prefix
        self._parents: list[_Handlers] = []

    def _hooks_changed(self) -> None:
        for parent in self._parents:
            parent._hooks_changed()

    def _served_as(self, name: str) -> Iterator[tuple[_Handlers, str]]:
        yield self, name
        for parent in self._parents:
            yield from parent._served_as(f"{self.prefix}.{name}")


class Swill(_Handlers):
    """An ASGI app serving RPC handlers over one WebSocket endpoint.

    Args:
        import_name: The module defining the app (`__name__`), used in logs and the playground.
        path: The WebSocket endpoint's path.
        debug: Send tracebacks of unmapped exceptions to clients in `INTERNAL` errors' `data`.
        introspection: Serve the built-in `swill.introspect` rpc.
        playground: Serve the playground page at `GET /swill`.
        allowed_origins: Origins allowed to open connections besides same-origin ones (always
            accepted) and requests without `Origin`: `None` for none, `["*"]` for any, or a list.
            A refused origin is accepted and closed with 4403 and a reason naming it.
        local_origins: Also accept pages on `http://localhost:<any port>` (127.0.0.1, [::1]) when
            the connection is made to a loopback host, for a frontend dev server. `None`: on only
            under `swill run --dev`. It never accepts anything on a server reached by its name.
        forbid_unknown_fields: Refuse request data with fields its classes (Structs, dataclasses,
            TypedDicts) do not have, in every request type, whatever each class says:
            `INVALID_ARGUMENT` naming the field. Introspection shows `additionalProperties: false`.
        safe_integers: Type every plain `int` of requests and responses as a JavaScript `number`
            (not `number | bigint`), held to ±(2^53 - 1): a request beyond is `INVALID_ARGUMENT`,
            a response beyond fails the call on the server. `swill.Int64` keeps an int 64-bit.
        max_message_size: The largest message accepted, in bytes (inclusive).
        max_concurrent_calls: Open calls allowed per connection.
        client_window: The credit a client gets for each streamed request (messages).
        drain_grace: Seconds open calls get to finish on shutdown (`drain()`).
        auth_timeout: Seconds a connection has to send credentials that pass `authenticate`,
            and that a later check of fresh credentials may take (docs/protocol.md,
            "Credentials"); only with an `authenticate` function.
        broker: Where topics are shared: `None` for in-process, or a `redis://` URL.
        lifespan: A Starlette-style lifespan context manager factory, run with the app.
        routes: Extra Starlette routes to serve next to the endpoint.
    """

    def __init__(
        self,
        import_name: str | None = None,
        *,
        path: str = "/ws",
        debug: bool = False,
        introspection: bool = True,
        playground: bool = True,
        allowed_origins: Sequence[str] | None = None,
        local_origins: bool | None = None,
        forbid_unknown_fields: bool = False,
        safe_integers: bool = False,
        max_message_size: int = 1 << 20,
        max_concurrent_calls: int = 100,
        client_window: int = 16,
        drain_grace: float = 10.0,
        auth_timeout: float = 10.0,
        broker: str | None = None,
        lifespan: Callable[[Any], AbstractAsyncContextManager[Any]] | None = None,
        routes: Sequence[BaseRoute] = (),
    ) -> None:
        super().__init__()
        self.hooks.update({name: [] for name in (*CONNECTION_HOOKS, "authenticate")})
        self.import_name = import_name
        self.path = path
        self.debug = debug
        self.introspection = introspection
        self.playground = playground
        self.allowed_origins = None if allowed_origins is None else list(allowed_origins)
        self.local_origins = local_origins_from_environment() if local_origins is None else local_origins
        self.forbid_unknown_fields = forbid_unknown_fields
        self.safe_integers = safe_integers
        self.settings = Settings(
            max_message_size=max_message_size,
            max_concurrent_calls=max_concurrent_calls,
            client_window=client_window,
            server=f"swill/{__version__}",
        )
        self.drain_grace = drain_grace
        self.auth_timeout = auth_timeout
        self.broker = broker
        self.connections: set[Connection] = set()
        self.draining = False
        """True once a drain started: new connections are then closed at once with 1012 (until
        the lifespan starts again)."""
        self._exception_handlers: dict[type[BaseException], Callable[..., Any]] = {}
        self._handlers_by_connection: dict[Connection, ConnectionHandler] = {}
        self._routes: dict[str, Route] | None = None
        self._connection_hooks: ConnectionHooks | None = None
        self._user_lifespan = lifespan
        self._startup: list[Callable[[], Any]] = []
        self._shutdown: list[Callable[[], Any]] = []
        self._topics: dict[str, Topic[Any]] = {}
        self.observer: Observer | None = None
        """Told when each call starts and ends (swill/_observe.py); `swill.metrics` sets it."""
        if introspection:
            from ._introspect import install

            install(self)
        extra: list[BaseRoute] = []
        if playground:
            from .playground import routes as playground_routes

            extra = playground_routes(self)
        self._asgi = Starlette(
            debug=debug,
            routes=[WebSocketRoute(path, _ASGIEndpoint(self._endpoint)), *extra, *routes],
            lifespan=self.lifespan,
        )

    # Registration.

    def _hooks_changed(self) -> None:
        self._routes = None
        self._connection_hooks = None

    @property
    def topics(self) -> Mapping[str, Topic[Any]]:
        """The app's topics, by name."""
        return self._topics

    def open_calls(self) -> list[ServerCall]:
        """The calls open now, on every connection (a copy), for observers such as metrics."""
        handlers = list(self._handlers_by_connection.values())
        return [call for handler in handlers for call in list(handler.calls.values())]

    def add_route(self, route: BaseRoute) -> None:
        """Serve a Starlette route next to the endpoint, as `routes=` does (e.g. `/metrics`)."""
        self._asgi.router.routes.append(route)

    def before_connection(self, fn: F) -> F:
        """Run `fn(connection)` when a handshake arrives, before accept; raise `swill.Error` to refuse."""
        return self._add_hook("before_connection", fn)

    def before_accept(self, fn: F) -> F:
        """Run `fn(connection)` after the before_connection chain: the last chance to refuse (auth)."""
        return self._add_hook("before_accept", fn)

    def after_connection(self, fn: F) -> F:
        """Run `fn(connection)` when a connection closed, however it closed."""
        return self._add_hook("after_connection", fn)

    def authenticate(self, fn: F) -> F:
        """Check credentials: run `fn(connection, credentials)` for each AUTH frame.

        With at least one such function, a connection's calls wait until an AUTH passes, within
        `auth_timeout` seconds (docs/protocol.md, "Credentials"). The functions run in order, sync or
        async; one that raises refuses the credentials, and the connection closes with 4401 and
        the error's message. Credentials that pass are `connection.credentials`; a later AUTH
        that passes replaces them without disturbing the calls.
        """
        return self._add_hook("authenticate", fn)

    def exception_handler(self, exc_type: type[E]) -> Callable[[F], F]:
        """Map an exception type (and its subclasses) to a `swill.Error`.

        The function takes `(request, exc)`, sync or async, and returns or raises a `swill.Error`.
        The nearest registered class along the exception's MRO wins.
        """

        def register(fn: F) -> F:
            self._exception_handlers[exc_type] = fn
            return fn

        return register

    def find_exception_handler(self, exc: BaseException) -> Callable[..., Any] | None:
        handlers = self._exception_handlers
        if handlers:
            for cls in type(exc).__mro__:
                handler = handlers.get(cls)
                if handler is not None:
                    return handler
        return None

    def on_startup(self, fn: F) -> F:
        """Run `fn()` (sync or async) when the server starts."""
        self._startup.append(fn)
        return fn

    def on_shutdown(self, fn: F) -> F:
        """Run `fn()` (sync or async) when the server stops."""
        self._shutdown.append(fn)
        return fn

    # Topics.

    @overload
    def topic(
        self,
        name: str,
        type: type[T],
        *,
        replay: bool = ...,
        policy: str = ...,
        queue_size: int = ...,
        max_lag: float = ...,
        history: int = ...,
    ) -> Topic[T]: ...

    @overload
    def topic(
        self,
        name: str,
        type: Any,
        *,
        replay: bool = ...,
        policy: str = ...,
        queue_size: int = ...,
        max_lag: float = ...,
        history: int = ...,
    ) -> Topic[Any]: ...

    def topic(
        self,
        name: str,
        type: Any,
        *,
        replay: bool = False,
        policy: str = "latest",
        queue_size: int = 1,
        max_lag: float = 5.0,
        history: int = 0,
    ) -> Topic[Any]:
        """Create a broadcast topic whose values are of `type`.

        Args:
            name: The topic's name (and the rpc name when exposed).
            type: The type of its values; they are validated on publish.
            replay: Give a new subscriber the last value at once.
            policy: `"latest"` drops the oldest for a slow subscriber; `"fifo"` keeps every value
                and ends a subscriber stuck longer than `max_lag` with `RESOURCE_EXHAUSTED`.
            queue_size: Values each subscriber may have waiting.
            max_lag: Seconds a fifo subscriber's queue may stay full.
            history: Values kept for subscribers that resume after an event id.
        """
        from ._topics import create_topic

        topic: Topic[Any] = create_topic(
            self, name, type, replay=replay, policy=policy, queue_size=queue_size, max_lag=max_lag, history=history
        )
        self._topics[name] = topic
        return topic

    def expose(self, topic: Topic[Any], *, name: str | None = None) -> None:
        """Serve `topic` as a streaming rpc (default name: the topic's) that subscribes the caller."""
        from ._topics import expose

        expose(self, topic, name=name)

    # The route table, joined once.

    @property
    def rpcs(self) -> Mapping[str, Route]:
        """Every rpc by name, with the hooks that apply to it."""
        if self._routes is None:
            self._routes = self._build_routes()
        return self._routes

    def _build_routes(self) -> dict[str, Route]:
        routes: dict[str, Route] = {}
        joined: dict[tuple[int, ...], RouteHooks] = {}
        for name, spec, chain in self._walk("", ()):
            existing = routes.get(name)
            if existing is not None:
                raise ValueError(
                    f"rpc {name!r} is registered twice: {existing.spec.function_name} and {spec.function_name}"
                )
            key = tuple(map(id, chain))
            hooks = joined.get(key)
            if hooks is None:
                hooks = joined[key] = RouteHooks.join(chain)
            if spec.name != name:  # a router's handler: `request.rpc`, errors and logs use the full name
                spec = dataclasses.replace(spec, name=name)
            if self.forbid_unknown_fields and not spec.builtin:
                strict = TypeCodec(spec.request_type, forbid_unknown_fields=True)
                spec = dataclasses.replace(spec, request_codec=strict)
            spec, check_response = safe_integer_rules(spec, safe_integers=self.safe_integers)
            routes[name] = Route(spec, hooks, check_response)
        return routes

    def include_router(self, router: Router) -> None:
        super().include_router(router)
        self._build_routes()  # name clashes are an error now, not at the first connection

    @property
    def connection_hooks(self) -> ConnectionHooks:
        if self._connection_hooks is None:
            self._connection_hooks = ConnectionHooks(
                **{name: tuple(self.hooks[name]) for name in (*CONNECTION_HOOKS, "authenticate")}
            )
        return self._connection_hooks

    # Serving.

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == self.path and not scope.get("root_path"):
            # Where Starlette's router would send it (the endpoint's route comes first), without
            # its middleware and routing: they cost a connection more time and memory than Swill's
            # own setup. Mounted (a `root_path`) or elsewhere, Starlette routes.
            scope["app"] = self._asgi
            await self._endpoint(scope, receive, send)
            return
        await self._asgi(scope, receive, send)

    def _endpoint(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # A plain ASGI endpoint: frames go straight to the server's receive and send, without
        # the state checks of Starlette's `WebSocket` on every message. Not a coroutine function
        # of its own: an idle connection's task holds one frame less.
        return ConnectionHandler(self, scope, receive, send).run()

    def _check_handshake(self, connection: Connection) -> str | None:
        """Why a handshake is refused before accept (HTTP 403), or `None` to go on."""
        offered = connection.subprotocols
        if offered and SUBPROTOCOL not in offered:
            return f"subprotocol {SUBPROTOCOL} not offered"
        return None

    def _check_origin(self, connection: Connection) -> str | None:
        """Why a handshake's `Origin` is refused (accept, then close with 4403 and this reason), or
        `None` to go on."""
        origin = host = None
        for name, value in connection.scope["headers"]:  # ASGI: lower-case names, latin-1 values
            if name == b"origin" and origin is None:
                origin = value.decode("latin-1")
            elif name == b"host" and host is None:
                host = value.decode("latin-1")
        return origin_refusal(origin, host, self.allowed_origins, local=self.local_origins)

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[Any]:
        """The app's lifespan: `on_startup` functions, the `lifespan` given to the constructor,
        then `on_shutdown` functions. A host that mounts the app runs it from its own lifespan
        (Starlette and FastAPI don't run a mounted app's): `Starlette(lifespan=rpc.lifespan)`,
        or `async with rpc.lifespan(app): ...` inside the host's.

        While it runs, SIGTERM and SIGINT drain the app (`drain()`) before they reach the
        server's own handlers (swill/_shutdown.py): `uvicorn app:app` drains, and so does every
        worker of `swill run --workers N`.

        Args:
            app: The app whose lifespan this is part of (unused; Starlette passes it).
        """
        self.draining = False  # a server that serves the app again after a drain
        for fn in self._startup:
            await _maybe_await(fn())
        restore_signals = drain_on_signals(self)
        try:
            if self._user_lifespan is not None:
                async with self._user_lifespan(self) as state:
                    yield state
            else:
                yield None
        finally:
            restore_signals()
            for fn in self._shutdown:
                await _maybe_await(fn())

    async def drain(self, grace: float | None = None) -> None:
        """Shut down gracefully: GOAWAY on every connection, let open calls finish for `grace`
        seconds (default `drain_grace`), end the rest with `UNAVAILABLE`, close with 1001.
        Connections that arrive from then on are closed at once with 1012, until the app's
        lifespan starts again: a drained app is going away."""
        grace = self.drain_grace if grace is None else grace
        self.draining = True
        async with anyio.create_task_group() as task_group:
            for handler in list(self._handlers_by_connection.values()):
                task_group.start_soon(handler.drain, grace)
            if self._topics:
                # A topic's stream never ends by itself: end them now, after GOAWAY went out,
                # rather than wait out the grace period. Clients resume elsewhere.
                from ._topics import end_subscriptions

                await anyio.lowlevel.checkpoint()
                end_subscriptions(self)


async def _maybe_await(value: Any) -> Any:
    if hasattr(value, "__await__"):
        return await value
    return value


class _ASGIEndpoint:
    """Makes Starlette route to an ASGI callable as it is, not wrapped as `func(websocket)`."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        return self.app(scope, receive, send)  # what Starlette awaits: no frame of this one's
