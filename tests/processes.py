"""Child processes that tests start: reading what they print."""

from __future__ import annotations

import threading
from typing import IO


class Output:
    """Reads a child process's output to its end in a thread of its own, keeping every line, and
    tells when a line that contains `marker` has come (the child is ready)."""

    def __init__(self, stream: IO[str], marker: str) -> None:
        self.lines: list[str] = []
        self.seen = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(stream, marker), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str], marker: str) -> None:
        for line in stream:
            self.lines.append(line)
            if marker in line:
                self.seen.set()

    def wait(self, timeout: float) -> bool:
        """Whether the marker came within `timeout` seconds."""
        return self.seen.wait(timeout)

    def join(self, timeout: float) -> None:
        """Wait until the output has ended (the child exited) and been read."""
        self._thread.join(timeout)

    def __str__(self) -> str:
        return "".join(self.lines)
