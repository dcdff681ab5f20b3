"""`swill codegen typescript`: generate, compile with `tsc --strict`, call a live server from Node.

The TypeScript client is built from clients/typescript/src into a temporary directory by the
fixture (with the package's own `tsc` and node_modules), so nothing depends on an earlier build.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from swill._codegen import generate_typescript, load_document

from ..conftest import LiveServer
from . import catalog, edges, resumable

HERE = Path(__file__).parent
CLIENT = HERE.parents[1] / "clients" / "typescript"
NODE_MODULES = CLIENT / "node_modules"
TSC = NODE_MODULES / "typescript" / "bin" / "tsc"

# Every option that makes tsc stricter than `--strict`, and the ones a bundler or Node's type
# stripping needs (the generated module has no enums, namespaces or parameter properties).
TSCONFIG = {
    "compilerOptions": {
        "target": "ES2022",
        "lib": ["ES2022", "DOM"],
        "module": "NodeNext",
        "moduleResolution": "NodeNext",
        "strict": True,
        "exactOptionalPropertyTypes": True,
        "noUncheckedIndexedAccess": True,
        "noPropertyAccessFromIndexSignature": True,
        "noImplicitReturns": True,
        "noUnusedLocals": True,
        "noUnusedParameters": True,
        "verbatimModuleSyntax": True,
        "isolatedModules": True,
        "erasableSyntaxOnly": True,
        "skipLibCheck": True,
        "types": ["node"],
        "outDir": "out",
    },
    "files": [
        "api.ts",
        "quickstart.ts",
        "edges.ts",
        "resumable.ts",
        "resumable_api.ts",
        "types.ts",
        "live.ts",
        "query_types.ts",
        "resumable_types.ts",
        "live_resumable.ts",
    ],
}


def node(*args: str | Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["node", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"node {args[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _event(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "value": value},
        "required": ["id", "value"],
    }


# Two resumable streams (PROTOCOL.md section 7b), a stream that is not, and an rpc named like the
# method that `subscribe` needs.
RESUMABLE: dict[str, Any] = {
    "version": 1,
    "rpcs": [
        {
            "name": "ticks",
            "request": {"stream": False, "schema": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
            "response": {"stream": True, "schema": _event({"type": "number"})},
            "resumable": True,
        },
        {
            "name": "alerts.raised",
            "request": {"stream": False, "schema": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
            "response": {"stream": True, "schema": {"$ref": "#/schemas/Alert"}},
            "resumable": True,
        },
        {
            "name": "count",
            "request": {"stream": False, "schema": {"type": "integer"}},
            "response": {"stream": True, "schema": {"type": "integer"}},
        },
        {
            "name": "subscribe",
            "request": {"stream": False, "schema": {"type": "integer"}},
            "response": {"stream": False, "schema": {"type": "integer"}},
            "resumable": True,  # not a stream: ignored
        },
    ],
    "schemas": {
        "Alert": _event(
            {"type": "object", "properties": {"level": {"type": "string"}}, "required": ["level"]}
        )
    },
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Node project with `@swill/client` (freshly built), `ws` and the type packages."""
    root = tmp_path_factory.mktemp("typescript")
    client = root / "client"
    node(TSC, "-p", CLIENT / "tsconfig.build.json", "--outDir", client / "dist", cwd=CLIENT)
    shutil.copy(CLIENT / "package.json", client / "package.json")
    (client / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    project = root / "project"
    (project / "node_modules" / "@swill").mkdir(parents=True)
    (project / "node_modules" / "@swill" / "client").symlink_to(client, target_is_directory=True)
    for package in ("ws", "@types", "@tanstack"):
        (project / "node_modules" / package).symlink_to(NODE_MODULES / package, target_is_directory=True)
    (project / "package.json").write_text('{"type": "module"}\n')
    (project / "tsconfig.json").write_text(json.dumps(TSCONFIG, indent=2))
    for name in ("types.ts", "live.ts", "query_types.ts", "resumable_types.ts", "live_resumable.ts"):
        shutil.copy(HERE / name, project / name)
    return project


@pytest.fixture(scope="module")
def compiled(project: Path) -> Path:
    """The generated modules of the catalog, the quickstart and the awkward names, compiled in one
    `tsc` run with the type checks and the live script."""
    (project / "api.ts").write_text(generate_typescript(load_document(f"{catalog.__name__}:app")))
    (project / "quickstart.ts").write_text(generate_typescript(load_document("examples.quickstart:app")))
    (project / "edges.ts").write_text(generate_typescript(load_document(f"{edges.__name__}:app")))
    (project / "resumable.ts").write_text(generate_typescript(RESUMABLE))
    (project / "resumable_api.ts").write_text(generate_typescript(load_document(f"{resumable.__name__}:app")))
    node(TSC, "-p", project / "tsconfig.json", cwd=project)
    return project / "out"


def test_generated_modules_compile_strict_and_their_types_are_tight(compiled: Path) -> None:
    # The fixture ran tsc: it fails on any error, and `types.ts` holds `@ts-expect-error` lines
    # that are errors themselves when the generated types accept what they shouldn't.
    for name in ("api.js", "quickstart.js", "edges.js"):
        head = (compiled / name).read_text().split("export", 1)[0]
        assert "import" not in head  # `import type` only: no runtime dependency
    text = (compiled.parent / "edges.ts").read_text()
    assert "export interface Api2 {" in text  # the schema named Api makes way for the Api class
    assert "export interface Date2 {" in text  # and Date for JavaScript's
    assert '  "a-b"?: Int64;' in text
    assert "  class(data: Date2, options?: CallOptions): Promise<Date2> {" in text
    assert "  get_all(data: Api2, options?: CallOptions): Promise<Api2> {" in text
    assert "  client2(options?: CallOptions): Promise<string> {" in text  # `client` is taken
    assert "  chat_(data: string, options?: CallOptions): Promise<string> {" in text  # `chat` is a namespace
    assert "Ends a comment: *\\/ and" in text
    typed = (compiled.parent / "resumable.ts").read_text()
    assert typed.count("  subscribe(rpc: ") == 3  # two overloads and the implementation
    ticks = '  subscribe(rpc: "ticks", options?: SubscribeOptions): AsyncIterable<SubscriptionEvent<number>>;'
    assert ticks in typed
    assert '"count", options?: SubscribeOptions' not in typed
    assert "subscribe" not in (compiled.parent / "edges.ts").read_text()  # no resumable rpc: no method
    api = (compiled.parent / "api.ts").read_text()
    assert '  "chat.echo": { kind: "bidi"; request: string; response: string };' in api  # Rpcs, by full name


def test_node_subscribes_through_the_generated_module(compiled: Path, live_server: Callable[..., LiveServer]) -> None:
    server = live_server(resumable.make_app())
    result = node(compiled / "live_resumable.js", server.url, cwd=compiled.parent, timeout=60)
    assert json.loads(result.stdout) == [1, 2.5, 0, False]  # the replayed value, event id 1


def test_node_calls_a_live_server_through_the_generated_module(
    compiled: Path, live_server: Callable[..., LiveServer]
) -> None:
    server = live_server(catalog.app)
    result = node(compiled / "live.js", server.url, cwd=compiled.parent, timeout=60)
    out = json.loads(result.stdout)
    assert out["add"] == 3
    assert out["addBig"] == f"{2**60 + 1}n"  # int64 travels as bigint, both ways
    assert out["count"] == [0, 1, 2]
    assert out["total"] == 3.5
    assert out["echo"] == ["HI", "THERE"]
    assert out["adopt"] == ["cat 2", "dog Sir Rex"]
    assert out["blob"] == {
        "data": [3, 2, 1],  # bytes came back as a Uint8Array
        "created": "2024-01-02T12:00:00.000Z",  # a Date
        "big": str(2**61),
        "small": -5,
    }
    assert out["order"] == ["confirmed", "green", "retail"]
    assert out["unlucky"] == "INVALID_ARGUMENT"
    assert out["tree"] == 3
    assert out["point"] == [2, 1]
    assert out["box"] == "5"
    assert out["window"] == "2024-01-01T13:00:00.000Z"
    assert out["tags"] == {"names": ["a", "b"], "weight": 2}
    assert out["pair"] == [2, "default"]
    assert out["ping"] is None
    assert out["maybe"] == [None, "3"]
    assert out["colors"] == ["green"]
    assert out["reserve"] == [
        "3",
        "FAILED_PRECONDITION tea 5",
        "UNAVAILABLE null The shop is closed.",
        "declared: false",
    ]
    assert out["upToDate"] is True
