"""`swill codegen typescript|python` and `swill docs`, as `add_subcommands` wires them."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pytest

import swill
from swill._codegen import (
    add_subcommands,
    generate_markdown,
    generate_python,
    generate_typescript,
    load_document,
)

from ..conftest import LiveServer
from . import catalog

TARGET = f"{catalog.__name__}:app"


def main(argv: list[str]) -> int:
    """What swill/cli.py does with the subcommands."""
    parser = argparse.ArgumentParser(prog="swill")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status: int = args.func(args)
    return status


@pytest.mark.parametrize(
    ("argv", "generate"),
    [
        (["codegen", "typescript"], lambda d: generate_typescript(d)),
        (["codegen", "python"], lambda d: generate_python(d, title=TARGET)),
        (["docs"], lambda d: generate_markdown(d, source=TARGET)),
    ],
)
def test_writes_the_generated_file(
    argv: list[str], generate: Callable[[dict[str, object]], str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert main([*argv, TARGET, "-o", str(out)]) == 0
    assert out.read_text() == generate(load_document(TARGET))


def test_writes_to_stdout_without_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["codegen", "typescript", TARGET]) == 0
    assert capsys.readouterr().out == generate_typescript(load_document(TARGET))


def test_docs_title(tmp_path: Path) -> None:
    out = tmp_path / "api.md"
    assert main(["docs", TARGET, "--title", "Catalog", "-o", str(out)]) == 0
    assert out.read_text().startswith("# Catalog\n")


def test_reads_a_live_server(live_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    url = live_server(catalog.app).url
    out = tmp_path / "api.py"
    assert main(["codegen", "python", url, "-o", str(out)]) == 0
    assert out.read_text() == generate_python(load_document(TARGET), title=url)


def test_reads_a_server_given_as_host_and_port(live_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    server = live_server(catalog.app)
    out = tmp_path / "api.md"
    assert main(["docs", f"127.0.0.1:{server.port}", "-o", str(out)]) == 0
    assert out.read_text() == generate_markdown(load_document(TARGET), source=f"127.0.0.1:{server.port}")


@pytest.mark.parametrize(
    ("target", "status", "message"),
    [
        ("examples.quickstart:add", 2, "is not a swill.Swill app"),
        ("examples.quickstart", 2, "expected a server URL or module:app"),
        ("no_such_module:app", 2, "No module named 'no_such_module'"),
        ("ftp://127.0.0.1:9/ws", 2, "not a server URL"),
        ("ws://127.0.0.1:9/ws", 3, "UNAVAILABLE"),
    ],
)
def test_a_bad_target_is_an_error(target: str, status: int, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", target]) == status
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"swill: can't read {target}: " in captured.err
    assert message in captured.err


def test_a_server_without_introspection_is_a_failed_call(live_server: Callable[..., LiveServer]) -> None:
    url = live_server(swill.Swill(introspection=False)).url
    assert main(["docs", url]) == 1


def test_a_language_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["codegen", TARGET])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
