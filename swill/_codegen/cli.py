"""`swill codegen typescript|python|asyncapi TARGET -o FILE` and `swill docs TARGET -o FILE`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._errors import Code, Error
from .asyncapi import dumps, generate_asyncapi
from .document import is_url, load_document
from .markdown import generate_markdown
from .python import generate_python
from .typescript import generate_typescript

__all__ = ["add_subcommands", "run"]

_GENERATORS: dict[str, Callable[[dict[str, Any], argparse.Namespace], str]] = {
    "typescript": lambda document, args: generate_typescript(document),
    "python": lambda document, args: generate_python(document, title=args.target),
    "docs": lambda document, args: generate_markdown(document, title=args.title, source=args.target),
    "asyncapi": lambda document, args: dumps(generate_asyncapi(document, title=args.title, url=_url(args.target))),
}
_TARGET_HELP = "a server (ws://host:port/ws, or host:port) or an app as module:attribute"


def add_subcommands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `codegen` (with `typescript` and `python`) and `docs` to the `swill` command.

    Each parser sets `func`, called with the parsed arguments; it returns the exit status.

    Args:
        subparsers: What `parser.add_subparsers()` returned.
    """
    codegen = subparsers.add_parser(
        "codegen",
        help="generate a typed client from swill.introspect",
        description="Generate a typed client module from a server's swill.introspect document.",
    )
    languages = codegen.add_subparsers(dest="language", required=True, metavar="LANGUAGE")
    for language, what in (
        ("typescript", "a TypeScript module over @swill/client"),
        ("python", "a Python module over swill.Client"),
        ("asyncapi", "an AsyncAPI 3.0 document (JSON)"),
    ):
        parser = languages.add_parser(language, help=what, description=f"Write {what}.")
        _target_arguments(parser, language)
        if language == "asyncapi":
            parser.add_argument("--title", default=None, help="the API's title (default: Swill API)")
    docs = subparsers.add_parser(
        "docs",
        help="generate a Markdown API reference",
        description="Write a Markdown reference of every rpc and type a server serves.",
    )
    _target_arguments(docs, "docs")
    docs.add_argument("--title", default="API reference", help="the page's title (default: %(default)s)")


def _target_arguments(parser: argparse.ArgumentParser, generator: str) -> None:
    parser.add_argument("target", metavar="URL|module:app", help=_TARGET_HELP)
    parser.add_argument("-o", "--output", metavar="FILE", help="where to write (default: stdout)")
    parser.set_defaults(func=run, generator=generator)


def _url(target: str) -> str | None:
    """The server's WebSocket URL when `target` is a server, for the document's `servers`."""
    from ..cli import normalize_url

    return normalize_url(target) if is_url(target) else None


def run(args: argparse.Namespace) -> int:
    """Load the document, generate, write. Returns the exit status, as `swill.cli`'s: 2 for a
    target that names no app, 3 when the server can't be reached, 1 when it refused the call."""
    from ..cli import EXIT_CALL_FAILED, EXIT_CONNECTION, EXIT_USAGE

    try:
        document = load_document(args.target)
    except Error as error:
        print(f"swill: can't read {args.target}: {error}", file=sys.stderr)
        return EXIT_CONNECTION if error.code is Code.UNAVAILABLE else EXIT_CALL_FAILED
    except Exception as exc:  # the import of a module:app target runs the user's code
        print(f"swill: can't read {args.target}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    text = _GENERATORS[args.generator](document, args)
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0
