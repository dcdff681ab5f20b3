"""The code in docs/client.md and docs/testing.md runs."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec

import swill
from swill.client import Client
from tests.docs.conftest import python_block, run_python_block

URL = "ws://localhost:8000/ws"


async def test_client_page_four_kinds(url: str) -> None:
    names = await run_python_block(
        "client.md", "# unary: one message each way", replace={URL: url}, swill=swill, asyncio=asyncio
    )
    assert names["total"] == 3
    assert names["numbers"] == [0, 1, 2]
    assert names["summed"] == 45
    assert names["echoed"] == ["hello", "world"]


async def test_client_page_examples(url: str) -> None:
    for containing in ('metadata={"tenant": "acme"}', "response_type=Point", "timeout=0.5", 'as chat:'):
        namespace: dict[str, Any] = {"swill": swill, "msgspec": msgspec}
        if containing == "as chat:":
            async with Client(url) as client:
                await run_python_block("client.md", containing, client=client, **namespace)
        else:
            await run_python_block("client.md", containing, replace={URL: url}, **namespace)


def test_testing_page_suite_passes(tmp_path: Path) -> None:
    (tmp_path / "myapp.py").write_text(python_block("testing.md", "# myapp.py"), encoding="utf-8")
    (tmp_path / "test_myapp.py").write_text(python_block("testing.md", "# test_myapp.py"), encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_myapp.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={key: value for key, value in os.environ.items() if key != "PYTHONPATH"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout
