"""Code generation from `swill.introspect` documents: TypeScript, Python, Markdown and AsyncAPI.

`load_document(target)` reads a document from a live server (a `ws://` URL) or an app
(`module:app`); `generate_typescript`, `generate_python` and `generate_markdown` turn it into
source text; `add_subcommands` wires `swill codegen` and `swill docs` into the CLI.
"""

from __future__ import annotations

from .asyncapi import generate_asyncapi
from .cli import add_subcommands
from .document import load_document
from .markdown import generate_markdown
from .python import generate_python
from .typescript import generate_typescript

__all__ = [
    "add_subcommands",
    "generate_asyncapi",
    "generate_markdown",
    "generate_python",
    "generate_typescript",
    "load_document",
]
