"""`swill codegen asyncapi`: the documents of every example app and of the catalog pass the official
AsyncAPI parser (`@asyncapi/parser`, installed in tools/asyncapi) with no error and no warning."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import examples
import swill
from swill import cli
from swill._codegen import generate_asyncapi, load_document
from swill._introspect import describe

from ..conftest import LiveServer
from . import catalog, edges

TOOL = Path(__file__).parents[2] / "tools" / "asyncapi"
ERROR, WARNING = 0, 1  # Spectral's severities; 2 (information) and 3 (hint) are advice


def example_apps() -> Iterator[tuple[str, swill.Swill]]:
    """Every Swill app a module under examples/ defines at its top level."""
    for module_info in pkgutil.walk_packages(examples.__path__, "examples."):
        module = importlib.import_module(module_info.name)
        for attribute, value in vars(module).items():
            if isinstance(value, swill.Swill):
                yield f"{module_info.name}:{attribute}", value


def validate(documents: dict[str, dict[str, Any]], tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    """The parser's diagnostics for each document, by name; one `node` run for them all."""
    files = {}
    for name, document in documents.items():
        files[name] = tmp_path / f"{name.replace(':', '-')}.json"
        files[name].write_text(json.dumps(document))
    result = subprocess.run(
        ["node", str(TOOL / "validate.mjs"), *map(str, files.values())],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    by_file = {line["file"]: line["diagnostics"] for line in map(json.loads, result.stdout.splitlines())}
    return {name: by_file[str(path)] for name, path in files.items()}


def test_every_example_app_and_the_catalog_pass_the_official_parser(tmp_path: Path) -> None:
    documents = {name: generate_asyncapi(describe(app), title=name) for name, app in example_apps()}
    assert len(documents) >= 10 and "examples.playground:app" in documents
    documents["catalog"] = generate_asyncapi(describe(catalog.app), url="ws://127.0.0.1:8000/ws")
    documents["edges"] = generate_asyncapi(describe(edges.app), url="wss://api.example.com/rpc")
    # The check is worth something only if the parser reads the payload schemas: a broken one fails.
    broken = generate_asyncapi(describe(catalog.app))
    broken["components"]["schemas"]["Cat"]["type"] = "kitten"
    documents["broken"] = broken
    results = validate(documents, tmp_path)
    assert any(d["severity"] == ERROR and "payload" in d["path"] for d in results.pop("broken"))
    for name, diagnostics in results.items():
        serious = [d for d in diagnostics if d["severity"] in (ERROR, WARNING)]
        assert serious == [], f"{name}: {json.dumps(serious, indent=2)}"


def test_an_operation_pair_per_rpc_with_frames_as_messages() -> None:
    document = generate_asyncapi(describe(catalog.app))
    assert document["asyncapi"] == "3.0.0"
    assert document["defaultContentType"] == "application/msgpack"
    assert document["channels"]["swill"]["address"] == "/ws"
    operations = document["operations"]
    rpcs = [rpc["name"] for rpc in describe(catalog.app)["rpcs"] if not rpc["builtin"]]
    expected = {f"{rpc}.{side}" for rpc in rpcs for side in ("request", "response")}
    assert set(operations) == expected | {"connection.receive", "connection.send"}

    def messages(operation: str) -> list[str]:
        return [ref["$ref"].rsplit("/", 1)[1] for ref in operations[operation]["messages"]]

    assert operations["add.request"]["action"] == "receive"
    assert operations["add.response"]["action"] == "send"
    assert messages("add.request") == ["add.REQUEST", "swill.CLOSE"]
    assert messages("add.response") == ["swill.METADATA", "add.RESPONSE", "swill.ERROR"]
    assert messages("count.request") == ["count.REQUEST", "swill.CLOSE", "swill.CREDIT"]
    assert messages("count.response") == ["swill.METADATA", "count.DATA.response", "swill.END_OF_STREAM", "swill.ERROR"]
    assert messages("chat.echo.request") == [
        "chat.echo.REQUEST",
        "chat.echo.DATA.request",
        "chat.echo.END_OF_STREAM.request",
        "swill.CLOSE",
        "swill.CREDIT",
    ]
    assert messages("reserve.response") == [
        "swill.METADATA",
        "reserve.RESPONSE",
        "swill.ERROR",
        "reserve.ERROR.SoldOut",
        "reserve.ERROR.shop.Closed",
    ]
    components = document["components"]
    # A REQUEST for a unary rpc carries all six items, its data typed by the rpc's schema.
    request = components["messages"]["add.REQUEST"]["payload"]
    assert request["minItems"] == request["maxItems"] == 6 and request["additionalItems"] is False
    assert request["items"][:3] == [{"const": 0}, {"$ref": "#/components/schemas/swill.CallId"}, {"const": "add"}]
    assert request["items"][5]["items"] == [{"type": "integer", "x-msgpack": "int64"}] * 2  # prefixItems → items
    sold_out = components["messages"]["reserve.ERROR.SoldOut"]["payload"]["items"]
    assert sold_out[2] == {"const": "FAILED_PRECONDITION"}
    assert sold_out[4]["properties"] == {
        "error": {"const": "SoldOut"},
        "detail": {"$ref": "#/components/schemas/Stock"},
    }
    # The envelope's parts are described once; the app's types sit beside them.
    assert {"swill.CallId", "swill.Metadata", "swill.Options", "swill.Code", "Order", "Stock"} <= set(
        components["schemas"]
    )
    adopt = components["messages"]["pets.adopt.REQUEST"]["payload"]["items"][5]
    assert adopt["discriminator"] == "type"  # a tagged union, as AsyncAPI's schema spells it
    assert "servers" not in document


def test_cli_writes_the_document_of_an_app_or_a_server(
    tmp_path: Path, live_server: Callable[..., LiveServer], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "api.json"
    assert cli.main(["codegen", "asyncapi", f"{catalog.__name__}:app", "-o", str(out), "--title", "Catalog"]) == 0
    written = json.loads(out.read_text())
    assert written["info"]["title"] == "Catalog"
    assert written == json.loads(
        json.dumps(generate_asyncapi(load_document(f"{catalog.__name__}:app"), title="Catalog"))
    )
    server = live_server(catalog.app)
    assert cli.main(["codegen", "asyncapi", f"127.0.0.1:{server.port}"]) == 0
    fetched = json.loads(capsys.readouterr().out)
    assert fetched["servers"] == {"swill": {"host": f"127.0.0.1:{server.port}", "protocol": "ws"}}
    assert fetched["operations"] == written["operations"]
