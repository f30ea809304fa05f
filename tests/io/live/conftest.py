"""Fixtures of the live-source tests: the live schemes registered, and a real dv-processing
network server in a subprocess (see dv_stream_server.py) that always ends."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from spikesight.io.live.schemes import register_live_schemes

SERVER = Path(__file__).with_name("dv_stream_server.py")
#: Generous bounds for a loaded two-core machine; nothing waits this long when all is well.
START_TIMEOUT_S = 30.0


@pytest.fixture(autouse=True)
def live_schemes() -> None:
    register_live_schemes()


class DvServer:
    """A dv_stream_server.py subprocess: ``port`` once READY; ``go()`` starts sending; ``kill()``."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, str(SERVER), *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()
        line = self.expect("READY", START_TIMEOUT_S)
        self.port = int(line.split()[1])

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line.strip())
        self._lines.put("EOF")

    def expect(self, prefix: str, timeout: float = START_TIMEOUT_S) -> str:
        """The next stdout line, which must start with ``prefix``."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the dv server printed no {prefix} within {timeout} s") from None
        assert line.startswith(prefix), (line, "".join(self.stderr))
        return line

    def go(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def close(self) -> None:
        self.kill()
        try:
            self.proc.stdin.close()
        except OSError:
            pass


@pytest.fixture
def dv_server():
    """Start servers with ``dv_server(*args)``; all are killed at the end of the test."""
    pytest.importorskip("dv_processing")
    made: list[DvServer] = []

    def start(*args: str) -> DvServer:
        server = DvServer(*args)
        made.append(server)
        return server

    yield start
    for s in made:
        s.close()
