"""Validation: what registering a request type costs, and what decoding one message costs.

Run it with `.venv/bin/python bench/validation_bench.py` (`--quick` for a smoke run). For each
request type below it measures, in one process:

- **register**: building the type's codec (`TypeCodec(T)`, what `@app.handle()` does once per
  handler), on classes made fresh for each build;
- **decode**: `codec.decode(payload)` on one valid message;
- **msgspec**: a bare `msgspec.msgpack.Decoder(T).decode(payload)` of the same bytes into the
  same classes (annotated-types constraints unchecked): the floor, for the ratio.

`--variant LABEL=PATH` (repeatable) also measures the `swill` package found in directory `PATH`
(put first on `PYTHONPATH`), each checkout in its own subprocess, rounds interleaved, so a change can be
compared with the code before it on the same machine at the same time:

```
git worktree add /tmp/before main
.venv/bin/python bench/validation_bench.py --variant before=/tmp/before
```

Figures are medians over `--rounds` rounds of process CPU time; each round's decode figure is the
best of 3 timings.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import timeit
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

__all__ = ["SOURCE", "main", "measure"]

# The request types, as a user would write them; executed into a fresh module for each build, so
# that no build finds a class an earlier one already saw.
SOURCE = """
from typing import Annotated
import msgspec
from annotated_types import Gt, MaxLen, MinLen, Predicate
import swill

class PlainLine(msgspec.Struct):
    sku: str
    qty: int = 1

class PlainOrder(msgspec.Struct):
    id: str
    lines: list[PlainLine]

class Line(msgspec.Struct):
    sku: Annotated[str, MinLen(1), MaxLen(32)]
    qty: Annotated[int, Gt(0)] = 1

class Order(msgspec.Struct):
    id: str
    lines: Annotated[list[Line], MinLen(1)]

class CheckedLine(swill.ValidatedStruct):
    sku: Annotated[str, MinLen(1), MaxLen(32)]
    qty: Annotated[int, Gt(0)] = 1

    @swill.validator("qty")
    def in_stock(self, value: int) -> None:
        if value > 100:
            raise ValueError("only 100 in stock")

class CheckedOrder(msgspec.Struct):
    id: str
    lines: list[CheckedLine]

def is_even(value: int) -> bool:
    return value % 2 == 0

TYPES = {
    "add: tuple[int, int]": tuple[int, int],
    "tuple[Gt(0), Gt(0)]": tuple[Annotated[int, Gt(0)], Annotated[int, Gt(0)]],
    "Struct, no constraints": PlainOrder,
    "Struct, annotated-types": Order,
    "ValidatedStruct lines": CheckedOrder,
    "list[Predicate] x10": list[Annotated[int, Predicate(is_even)]],
}
"""

ORDER = {"id": "o-1", "lines": [{"sku": "apple", "qty": 2}, {"sku": "pear", "qty": 3}, {"sku": "fig"}]}
PAYLOADS: dict[str, Any] = {
    "add: tuple[int, int]": [1, 2],
    "tuple[Gt(0), Gt(0)]": [1, 2],
    "Struct, no constraints": ORDER,
    "Struct, annotated-types": ORDER,
    "ValidatedStruct lines": ORDER,
    "list[Predicate] x10": list(range(0, 20, 2)),
}


def _fresh_types(count: int) -> dict[str, Any]:
    module = types.ModuleType(f"validation_bench_types_{count}")
    sys.modules[module.__name__] = module
    exec(SOURCE, module.__dict__)
    found: dict[str, Any] = module.TYPES
    return found


def _best(fn: Callable[[], object], number: int) -> float:
    # CPU time of this process, not wall time: on a busy machine, time spent descheduled is not ours.
    return min(timeit.repeat(fn, number=number, repeat=3, timer=time.process_time)) / number


def measure(quick: bool) -> dict[str, dict[str, float]]:
    """One round: register and decode figures for every type, in nanoseconds."""
    from swill._validation import TypeCodec  # the package under test, found on sys.path

    builds, decodes = (3, 2_000) if quick else (50, 100_000)
    fresh = [_fresh_types(i) for i in range(builds + 1)]
    out: dict[str, dict[str, float]] = {}
    for name, payload in PAYLOADS.items():
        data = msgspec.msgpack.encode(payload)
        register = []
        for types_ in fresh[1:]:
            register.append(_best(lambda tp=types_[name]: TypeCodec(tp), 1))
        codec: Any = TypeCodec(fresh[0][name])
        bare = msgspec.msgpack.Decoder(fresh[0][name])
        out[name] = {
            "register": statistics.median(register) * 1e9,
            "decode": _best(lambda: codec.decode(data), decodes) * 1e9,  # noqa: B023 (run at once)
            "msgspec": _best(lambda: bare.decode(data), decodes) * 1e9,  # noqa: B023
        }
    return out


def _run(path: str, quick: bool) -> dict[str, dict[str, float]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([path, os.environ.get("PYTHONPATH", "")])}
    args = [sys.executable, __file__, "--json", *(["--quick"] if quick else [])]
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    result: dict[str, dict[str, float]] = json.loads(done.stdout)
    return result


def _table(results: dict[str, list[dict[str, dict[str, float]]]]) -> str:
    labels = list(results)
    head = "| type | " + " | ".join(f"{label} register µs | {label} decode ns" for label in labels)
    head += " | msgspec decode ns | " + " | ".join(f"{label} / msgspec" for label in labels) + " |"
    lines = [head, "|" + "---|" * (2 + 3 * len(labels))]
    for name in PAYLOADS:
        cells: list[str] = []
        ratios: list[str] = []
        floor = statistics.median(r[name]["msgspec"] for label in labels for r in results[label])
        for label in labels:
            register = statistics.median(r[name]["register"] for r in results[label]) / 1000
            decode = statistics.median(r[name]["decode"] for r in results[label])
            cells += [f"{register:.1f}", f"{decode:.0f}"]
            ratios.append(f"{decode / floor:.2f}x")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {floor:.0f} | " + " | ".join(ratios) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Measure, interleaving this checkout with each `--variant`, and print a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tiny run that checks that everything works")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL=PATH")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one round, for a variant
    args = parser.parse_args(argv)
    if args.json:
        print(json.dumps(measure(args.quick)))
        return
    variants = {"this": str(Path(__file__).resolve().parents[1])}
    variants |= dict(v.split("=", 1) for v in args.variant)
    results: dict[str, list[dict[str, dict[str, float]]]] = {label: [] for label in variants}
    for round_ in range(1 if args.quick else args.rounds):
        order = list(variants.items())
        for label, path in order if round_ % 2 == 0 else reversed(order):
            results[label].append(_run(path, args.quick))
    print(f"Python {sys.version.split()[0]}, msgspec {msgspec.__version__}; medians of {args.rounds} rounds")
    print(_table(results))


if __name__ == "__main__":
    main()
