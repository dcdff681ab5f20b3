"""What the app-wide request and response rules cost per message, against msgspec alone.

Run it with `.venv/bin/python bench/app_rules_bench.py` (`--quick` for a smoke run). For each type
below, in one process, it times:

- **decode**: the request codec the server uses by default;
- **strict**: the codec under `Swill(forbid_unknown_fields=True)` (a strict twin first);
- **safe ints**: the codec under `Swill(safe_integers=True)` (a check of the plain ints after);
- **check out**: the response check under `safe_integers` (swill/_integers.py), which runs before
  a message is encoded, next to **encode**, msgspec encoding the same message.

Figures are medians over `--rounds` rounds of the best of 3 timings, in process CPU time; the
ratios divide by msgspec's own decode (or encode) of the same bytes into the same types.
"""

from __future__ import annotations

import argparse
import statistics
import time
import timeit
from collections.abc import Callable
from typing import Any

import msgspec

import swill
from swill._integers import unsafe_integer_check


class Line(msgspec.Struct):
    sku: str
    qty: int = 1


class Order(msgspec.Struct):
    id: str
    lines: list[Line]


ORDER = {"id": "o-1", "lines": [{"sku": "apple", "qty": 2}, {"sku": "pear", "qty": 3}, {"sku": "fig"}]}


async def pair(request: swill.Request[tuple[int, int]]) -> None:
    """Takes two ints."""


async def order(request: swill.Request[Order]) -> None:
    """Takes an order."""


async def ints(request: swill.Request[list[int]]) -> None:
    """Takes a list of ints."""


CASES: dict[str, tuple[Any, Any, Any]] = {
    "tuple[int, int]": (pair, tuple[int, int], [1, 2]),
    "Order (3 lines)": (order, Order, ORDER),
    "list[int] x100": (ints, list[int], list(range(100))),
}


def _codecs(*, forbid_unknown_fields: bool = False, safe_integers: bool = False) -> dict[str, Any]:
    """The request codec of each case's handler, as an app with these settings serves it."""
    app = swill.Swill(
        introspection=False,
        playground=False,
        forbid_unknown_fields=forbid_unknown_fields,
        safe_integers=safe_integers,
    )
    for handler, _, _ in CASES.values():
        app.handle()(handler)
    return {name: app.rpcs[handler.__name__].spec.request_codec for name, (handler, _, _) in CASES.items()}


def _best(fn: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=3, timer=time.process_time)) / number


def measure(number: int) -> dict[str, dict[str, float]]:
    """One round: nanoseconds per message for every case."""
    out: dict[str, dict[str, float]] = {}
    codecs = [_codecs(), _codecs(forbid_unknown_fields=True), _codecs(safe_integers=True)]
    for name, (_, tp, payload) in CASES.items():
        data = msgspec.msgpack.encode(payload)
        bare = msgspec.msgpack.Decoder(tp)
        value = bare.decode(data)
        plain, strict, safe = (codec[name] for codec in codecs)
        check = unsafe_integer_check(tp, safe_integers=True)
        assert check is not None
        encoder = msgspec.msgpack.Encoder()
        out[name] = {
            "msgspec": _best(lambda: bare.decode(data), number) * 1e9,  # noqa: B023 (run at once)
            "decode": _best(lambda: plain.decode(data), number) * 1e9,  # noqa: B023
            "strict": _best(lambda: strict.decode(data), number) * 1e9,  # noqa: B023
            "safe ints": _best(lambda: safe.decode(data), number) * 1e9,  # noqa: B023
            "encode": _best(lambda: encoder.encode(value), number) * 1e9,  # noqa: B023
            "check out": _best(lambda: check(value), number) * 1e9,  # noqa: B023
        }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny run, to check that it works")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    number = 200 if args.quick else 50_000
    runs = [measure(number) for _ in range(rounds)]
    print("| type | msgspec ns | decode | strict | safe ints | encode ns | check out |")
    print("|---|---|---|---|---|---|---|")
    for name in CASES:
        m = {key: statistics.median(run[name][key] for run in runs) for key in runs[0][name]}
        ratio = {key: m[key] / m["msgspec"] for key in ("decode", "strict", "safe ints")}
        print(
            f"| {name} | {m['msgspec']:.0f} | {ratio['decode']:.2f}x | {ratio['strict']:.2f}x | "
            f"{ratio['safe ints']:.2f}x | {m['encode']:.0f} | {m['check out'] / m['encode']:.2f}x |"
        )


if __name__ == "__main__":
    main()
