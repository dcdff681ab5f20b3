"""Prometheus metrics of a Swill app, with `prometheus_client` (`pip install swill[metrics]`).

```python
app = swill.Swill(__name__)
metrics = swill.metrics.Metrics(app, path="/metrics")              # on the app's own listener
metrics = swill.metrics.Metrics(app, port=9100, addr="127.0.0.1")   # or on a listener of its own
```

Rules:

1. The call path pays for a few integer additions per call: `Metrics` is the app's observer
   (swill/_observe.py) and keeps plain counters per rpc. Prometheus objects are built when
   Prometheus scrapes (one process), or once a second from those counters (multiprocess mode).
2. Labels are bounded: `rpc_method` only takes the names of registered rpcs (a call to an
   unknown rpc never opens), `rpc_response_status_code` the 17 status names, `topic` the app's
   topics. Names and labels follow Prometheus' conventions and OpenTelemetry's for RPC
   (`rpc_system="swill"`, `rpc_method`, `rpc_response_status_code`).
3. With `PROMETHEUS_MULTIPROC_DIR` set (prometheus_client's multiprocess mode, for
   `swill run --workers N`), each worker writes its figures to that directory once a second (and
   at shutdown), and a scrape of any worker reports the sum over all of them.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
import os
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

import anyio.to_thread
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector
from starlette.requests import Request as HttpRequest
from starlette.responses import Response as HttpResponse
from starlette.routing import Route

if TYPE_CHECKING:
    from ._app import Swill
    from ._call import ServerCall
    from ._errors import Error

__all__ = ["DEFAULT_BUCKETS", "Metrics"]

logger: Final = logging.getLogger("swill")

DEFAULT_BUCKETS: Final = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
"""Call duration buckets, in seconds: from 100 µs (a unary call on one core) to a minute."""

SYSTEM: Final = "swill"
_MULTIPROC_ENV: Final = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")

# name (without _total for counters), help, labels after rpc_system
_STARTED: Final = ("swill_rpc_server_calls_started", "Calls opened, by rpc.")
_HANDLED: Final = ("swill_rpc_server_calls", "Calls ended, by rpc and status code.")
_DURATION: Final = ("swill_rpc_server_call_duration_seconds", "Duration of calls, by rpc.")
_IN_FLIGHT: Final = ("swill_rpc_server_calls_in_flight", "Calls open now, by rpc.")
_MESSAGES_IN: Final = ("swill_rpc_server_messages_received", "Request messages received, by rpc.")
_MESSAGES_OUT: Final = ("swill_rpc_server_messages_sent", "Response messages sent, by rpc.")
_BYTES_IN: Final = ("swill_rpc_server_received_bytes", "Bytes of request messages (MessagePack data), by rpc.")
_BYTES_OUT: Final = ("swill_rpc_server_sent_bytes", "Bytes of frames carrying response messages, by rpc.")
_CREDIT_WAIT: Final = (
    "swill_rpc_server_credit_wait_seconds",
    "Time streamed responses waited for the client's credit.",
)
_CONNECTIONS: Final = ("swill_connections_open", "WebSocket connections open now.")
_SUBSCRIBERS: Final = ("swill_topic_subscribers", "Subscribers of each topic now.")
_DROPPED: Final = ("swill_topic_messages_dropped", "Values dropped for slow subscribers, by topic.")

_RPC: Final = ["rpc_system", "rpc_method"]
_CODE: Final = [*_RPC, "rpc_response_status_code"]


class _Rpc:
    """The plain counters of one rpc (rule 1): calls that ended, and what they counted."""

    __slots__ = ("codes", "counts", "credit_wait", "ok", "stats", "sums")

    def __init__(self, buckets: int) -> None:
        self.ok = 0
        self.codes: dict[str, int] = {}  # the other status codes
        self.counts = [0] * (buckets + 1)  # per bucket (not cumulative), the last one +Inf
        self.sums = [0.0] * (buckets + 1)  # the sum of the durations in each bucket
        self.stats = [0, 0, 0, 0]  # messages in, messages out, bytes in, bytes out
        self.credit_wait = 0.0


class Metrics:
    """Prometheus metrics of one app: calls, durations, messages, connections, topics.

    Creating it instruments `app` (its `observer`); say where Prometheus reads them with `path`
    or `port` (or use `collect()` and `registry` yourself).

    Args:
        app: The app to measure.
        path: Serve the metrics at this path of the app's own listener (HTTP GET).
        port: Serve them on a listener of their own, at this port, from the app's startup on
            (prometheus_client's `start_http_server`). With several workers, the first to start
            serves it.
        addr: The address that listener binds to; keep it private (loopback, or an internal
            interface) so that the metrics stay off the public network.
        registry: Where the metrics are registered, `prometheus_client.REGISTRY` by default
            (with the process and platform collectors). Not used in multiprocess mode.
        buckets: Upper bounds of the duration histogram, in seconds.
        flush_interval: Multiprocess mode: seconds between writes to the shared directory.

    Raises:
        ValueError: The app already has an observer.
    """

    def __init__(
        self,
        app: Swill,
        *,
        path: str | None = None,
        port: int | None = None,
        addr: str = "127.0.0.1",
        registry: CollectorRegistry | None = None,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        flush_interval: float = 1.0,
    ) -> None:
        if app.observer is not None:
            raise ValueError(f"{app!r} already has an observer: {app.observer!r}")
        self.app = app
        self.buckets = tuple(sorted(float(b) for b in buckets if b != math.inf))
        self.multiprocess = any(os.environ.get(name) for name in _MULTIPROC_ENV)
        self._rpcs: dict[str, _Rpc] = {}
        self._high: dict[Any, float] = {}  # the highest value each derived counter reported
        self._lock = threading.Lock()  # scrapes may come from prometheus_client's thread
        self._flush_interval = flush_interval
        self._flusher: _Flusher | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._http: Any = None
        if self.multiprocess:
            self._flusher = _Flusher(self.buckets)
            self.registry = CollectorRegistry()
            prometheus_multiprocess.MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
            app.on_startup(self._start_flushing)
            app.on_shutdown(self._stop_flushing)
        else:
            self.registry = REGISTRY if registry is None else registry
            self.registry.register(_Collector(self))
        app.observer = self
        if path is not None:
            app.add_route(Route(path, self._endpoint, methods=["GET"], name="metrics"))
        if port is not None:
            app.on_startup(lambda: self._listen(port, addr))
            app.on_shutdown(self._stop_listening)

    def __repr__(self) -> str:
        return f"<Metrics of {self.app!r}{' multiprocess' if self.multiprocess else ''}>"

    # The observer (rule 1): called on the call path, once per call.

    def call_ended(self, call: ServerCall, error: Error | None, seconds: float, stats: list[Any]) -> None:
        """Count a call that ended: its status, duration, messages and bytes."""
        cell = self._rpcs.get(call.spec.name)
        if cell is None:
            cell = self._rpcs[call.spec.name] = _Rpc(len(self.buckets))
        if error is None and not call.closed:
            cell.ok += 1
        else:
            code = "CANCELLED" if error is None else error.code.value
            cell.codes[code] = cell.codes.get(code, 0) + 1
        index = bisect.bisect_left(self.buckets, seconds)
        cell.counts[index] += 1
        cell.sums[index] += seconds
        totals = cell.stats
        totals[0] += stats[0]
        totals[1] += stats[1]
        totals[2] += stats[2]
        totals[3] += stats[3]
        if stats[4]:
            cell.credit_wait += stats[4]

    # Reading the figures (on the event loop, or from prometheus_client's thread: every
    # collection is copied at C level first, so a concurrent change can't break the iteration).

    def snapshot(self) -> dict[str, Any]:
        """Every figure now, as plain data: `{"rpcs": {name: {...}}, "connections", "topics"}`.

        A call that opened is open or has ended: `started` is their sum, and open calls add
        their messages and bytes so far. Read from another thread, a call may for a moment be
        in neither; counters never go down for it (they keep the highest value reported).
        """
        open_calls = self.app.open_calls()
        names = list(dict.fromkeys([*list(self.app.rpcs), *list(self._rpcs)]))
        rpcs: dict[str, dict[str, Any]] = {}
        for name in names:
            cell = self._rpcs.get(name) or _Rpc(len(self.buckets))
            codes = dict(cell.codes)
            if cell.ok:
                codes["OK"] = cell.ok
            rpcs[name] = {
                "ended": sum(codes.values()),
                "codes": codes,
                "counts": list(cell.counts),
                "sums": list(cell.sums),
                "stats": list(cell.stats),
                "credit_wait": cell.credit_wait,
                "in_flight": 0,
            }
        for call in open_calls:  # open calls count their messages as they go, not when they end
            figures = rpcs.get(call.spec.name)
            if figures is not None:
                figures["in_flight"] += 1
                stats = list(call.stats)
                figures["stats"] = [a + b for a, b in zip(figures["stats"], stats[:4], strict=True)]
                figures["credit_wait"] += stats[4]
        with self._lock:
            for name, figures in rpcs.items():
                figures["started"] = self._monotonic((name, "started"), figures["ended"] + figures["in_flight"])
                figures["stats"] = [self._monotonic((name, i), v) for i, v in enumerate(figures["stats"])]
                figures["credit_wait"] = self._monotonic((name, "credit"), figures["credit_wait"])
        topics = {name: (topic.subscribers, topic.dropped) for name, topic in dict(self.app.topics).items()}
        return {"rpcs": rpcs, "connections": len(self.app.connections), "topics": topics}

    def _monotonic(self, key: Any, value: float) -> float:
        high = max(self._high.get(key, 0), value)
        self._high[key] = high
        return high

    def collect(self) -> Iterator[Metric]:
        """The metric families of the app now (what `registry` collects in one process)."""
        snapshot = self.snapshot()
        families = {
            key: CounterMetricFamily(*spec, labels=_RPC)
            for key, spec in (
                ("started", _STARTED),
                ("in", _MESSAGES_IN),
                ("out", _MESSAGES_OUT),
                ("bytes_in", _BYTES_IN),
                ("bytes_out", _BYTES_OUT),
                ("credit", _CREDIT_WAIT),
            )
        }
        handled = CounterMetricFamily(*_HANDLED, labels=_CODE)
        duration = HistogramMetricFamily(*_DURATION, labels=_RPC)
        in_flight = GaugeMetricFamily(*_IN_FLIGHT, labels=_RPC)
        bounds = [*(repr(b) for b in self.buckets), "+Inf"]
        for name, figures in snapshot["rpcs"].items():
            labels = [SYSTEM, name]
            families["started"].add_metric(labels, figures["started"])
            for key, value in zip(("in", "out", "bytes_in", "bytes_out"), figures["stats"], strict=True):
                families[key].add_metric(labels, value)
            families["credit"].add_metric(labels, figures["credit_wait"])
            for code, count in sorted(figures["codes"].items()):
                handled.add_metric([*labels, code], count)
            cumulative, running = [], 0
            for bound, count in zip(bounds, figures["counts"], strict=True):
                running += count
                cumulative.append((bound, running))
            duration.add_metric(labels, cumulative, math.fsum(figures["sums"]))
            in_flight.add_metric(labels, figures["in_flight"])
        yield families["started"]
        yield handled
        yield duration
        yield in_flight
        for key in ("in", "out", "bytes_in", "bytes_out", "credit"):
            yield families[key]
        yield GaugeMetricFamily(*_CONNECTIONS, value=snapshot["connections"])
        subscribers = GaugeMetricFamily(*_SUBSCRIBERS, labels=["topic"])
        dropped = CounterMetricFamily(*_DROPPED, labels=["topic"])
        for topic, (count, lost) in sorted(snapshot["topics"].items()):
            subscribers.add_metric([topic], count)
            dropped.add_metric([topic], lost)
        yield subscribers
        yield dropped

    def exposition(self) -> bytes:
        """The text Prometheus reads, for the registry the metrics are in."""
        return generate_latest(self.registry)

    # Serving.

    async def _endpoint(self, request: HttpRequest) -> HttpResponse:
        if self._flusher is not None:
            self._flusher.flush(self.snapshot())  # this worker's figures are fresh, the others' ≤ 1 s old
            body = await anyio.to_thread.run_sync(self.exposition)  # reads every worker's files
        else:
            body = self.exposition()
        return HttpResponse(body, media_type=CONTENT_TYPE_LATEST)

    def _listen(self, port: int, addr: str) -> None:
        from prometheus_client import start_http_server

        try:
            self._http, _ = start_http_server(port, addr, registry=self.registry)
        except OSError as exc:
            if not self.multiprocess:
                raise
            # Another worker serves it: any one of them reports every worker's figures.
            logger.info("metrics: port %s is taken (%s); another worker serves the metrics", port, exc)

    def _stop_listening(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    def _start_flushing(self) -> None:
        loop = asyncio.get_running_loop()

        def tick() -> None:
            self._flush()
            self._timer = loop.call_later(self._flush_interval, tick)

        self._timer = loop.call_later(self._flush_interval, tick)

    def _stop_flushing(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._flush()
        # This worker's gauges (open calls and connections, subscribers) stop counting.
        prometheus_multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    def _flush(self) -> None:
        if self._flusher is not None:
            try:
                self._flusher.flush(self.snapshot())
            except Exception:  # a full disk must not stop the server
                logger.exception("metrics: writing to the multiprocess directory failed")


class _Collector(Collector):
    """Registers a `Metrics` in a registry (one process)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return self.metrics.collect()


class _Flusher:
    """Multiprocess mode (rule 3): carries the counters' growth since the last flush into
    prometheus_client's metrics, whose values live in the shared directory."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.started = Counter(*_STARTED, _RPC, registry=None)
        self.handled = Counter(*_HANDLED, _CODE, registry=None)
        self.duration = Histogram(*_DURATION, _RPC, registry=None, buckets=buckets)
        self.counters = [
            Counter(*spec, _RPC, registry=None) for spec in (_MESSAGES_IN, _MESSAGES_OUT, _BYTES_IN, _BYTES_OUT)
        ]
        self.credit = Counter(*_CREDIT_WAIT, _RPC, registry=None)
        self.in_flight = Gauge(*_IN_FLIGHT, _RPC, registry=None, multiprocess_mode="livesum")
        self.connections = Gauge(*_CONNECTIONS, registry=None, multiprocess_mode="livesum")
        self.subscribers = Gauge(*_SUBSCRIBERS, ["topic"], registry=None, multiprocess_mode="livesum")
        self.dropped = Counter(*_DROPPED, ["topic"], registry=None)
        self.sent: dict[Any, Any] = {}  # what was carried over so far, by key

    def _grow(self, key: Any, total: float, child: Any) -> None:
        delta = total - self.sent.get(key, 0)
        if delta > 0:
            child.inc(delta)
            self.sent[key] = total
        elif key not in self.sent:
            child.inc(0)  # the series exists from the start, at zero
            self.sent[key] = 0

    def flush(self, snapshot: dict[str, Any]) -> None:
        for name, figures in snapshot["rpcs"].items():
            labels = (SYSTEM, name)
            self._grow(("started", name), figures["started"], self.started.labels(*labels))
            for code, count in figures["codes"].items():
                self._grow(("handled", name, code), count, self.handled.labels(*labels, code))
            for index, counter in enumerate(self.counters):
                self._grow((index, name), figures["stats"][index], counter.labels(*labels))
            self._grow(("credit", name), figures["credit_wait"], self.credit.labels(*labels))
            self._observe(name, figures, self.duration.labels(*labels))
            self.in_flight.labels(*labels).set(figures["in_flight"])
        self.connections.set(snapshot["connections"])
        for topic, (count, lost) in snapshot["topics"].items():
            self.subscribers.labels(topic).set(count)
            self._grow(("dropped", topic), lost, self.dropped.labels(topic))

    def _observe(self, name: str, figures: dict[str, Any], child: Any) -> None:
        """Add the durations that ended since the last flush. prometheus_client adds one value
        at a time: each bucket's new values are added as their mean, which lies in the same
        bucket, so that the bucket counts and the sum come out exact."""
        bounds = (0.0, *self.buckets, math.inf)
        for index, (count, total) in enumerate(zip(figures["counts"], figures["sums"], strict=True)):
            key = ("duration", name, index)
            done_count, done_sum = self.sent.get(key, (0, 0.0))
            new = count - done_count
            if new > 0:
                mean = (total - done_sum) / new
                mean = min(max(mean, math.nextafter(bounds[index], math.inf)), bounds[index + 1])
                for _ in range(new):
                    child.observe(mean)
                self.sent[key] = (count, total)
