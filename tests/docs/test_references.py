"""Source code cites the protocol as users have it: docs/protocol.md, by section name. There is no
PROTOCOL.md in the repository, nor numbered sections in docs/protocol.md."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
SOURCES = [
    *ROOT.glob("swill/**/*.py"),
    *ROOT.glob("swill/playground/static/*.js"),
    *ROOT.glob("clients/typescript/src/*.ts"),
    ROOT / "README.md",
    ROOT / "clients" / "typescript" / "README.md",
]
HEADINGS = set(re.findall(r"^#+ (.+)$", (ROOT / "docs" / "protocol.md").read_text(), re.MULTILINE))


def test_no_source_cites_a_file_users_do_not_have() -> None:
    citing = [str(path.relative_to(ROOT)) for path in SOURCES if "PROTOCOL.md" in path.read_text()]
    assert citing == []


def test_cited_sections_exist() -> None:
    for path in SOURCES:
        for section in re.findall(r'docs/protocol\.md,\s+"([^"]+)"', path.read_text()):
            assert " ".join(section.split()) in HEADINGS, f"{path}: no section {section!r} in docs/protocol.md"
