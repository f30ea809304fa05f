"""DV network streams: ``dv-net:HOST:PORT`` (DV's network output, or any dv-processing ``NetworkWriter``).

dv-processing 2.0.4's ``NetworkReader(host, port)`` blocks forever, holding the GIL (so the whole
process freezes), when the far end accepts the connection but never sends a stream header. So a
plain socket probes first, with a timeout: it reads the first 12 bytes and expects the AEDAT 4
stream header's FlatBuffer identifier ``IOHE`` at bytes 8-12 (after a 4-byte length and a 4-byte
root offset), then disconnects. Only a peer that has just sent a header is handed to
``NetworkReader``. A refused connection, a silent listener and a peer that speaks something else
each raise :class:`~.base.LiveSourceError` saying which.

Once open the stream is read like a camera (:class:`~.dv.DvInputSource`). A peer that goes away
shows as ``isRunning()`` turning false: the source raises :class:`~.base.SourceDisconnected`
after the events already received. A peer that stays connected but sends nothing for
``stall_timeout`` seconds (10 by default; ``None``: wait for ever) ends the stream too.

dv-processing keeps only a few hundred packets for a client that does not read (measured: about
500; the rest are dropped without a word, and AEDAT 4 stream packets carry no sequence number
to notice it by). The reader thread therefore drains ``NetworkReader`` continuously, whatever the
consumer does; a machine so loaded that this thread cannot run for long loses events upstream.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from .base import LiveSourceError
from .dv import DvInputSource, dv_message

#: The FlatBuffer file identifier of dv's IOHeader, at bytes 8-12 of what a writer sends first.
HEADER_ID = b"IOHE"
DEFAULT_PROBE_TIMEOUT_S = 5.0
DEFAULT_STALL_TIMEOUT_S = 10.0


def parse_address(rest: str) -> tuple[str, int]:
    """``"HOST:PORT"``, ``"[IPv6]:PORT"`` or ``":PORT"`` (127.0.0.1) -> ``(host, port)``."""
    rest = rest.strip()
    if rest.startswith("["):
        host, sep, port = rest[1:].partition("]:")
    else:
        host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"dv-net:{rest}: expected dv-net:HOST:PORT, such as dv-net:127.0.0.1:7777")
    return host or "127.0.0.1", int(port)


def probe(host: str, port: int, timeout: float = DEFAULT_PROBE_TIMEOUT_S) -> str:
    """Check that ``host:port`` sends a dv stream header within ``timeout`` seconds; returns the
    peer's numeric address (what ``NetworkReader`` is given). Raises :class:`LiveSourceError`."""
    uri = f"dv-net:{host}:{port}"
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        raise LiveSourceError("dv-net", "connection refused (nothing listens on that port)", uri) from None
    except TimeoutError:
        raise LiveSourceError("dv-net", f"no answer to the connection within {timeout:g} s", uri) from None
    except OSError as exc:
        raise LiveSourceError("dv-net", f"cannot connect: {exc}", uri) from None
    with sock:
        peer = sock.getpeername()[0]
        data = b""
        try:
            while len(data) < 12:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                sock.settimeout(left)
                part = sock.recv(12 - len(data))
                if not part:
                    raise LiveSourceError("dv-net", "the peer closed the connection before sending a dv "
                                                    "stream header", uri)
                data += part
        except TimeoutError:
            raise LiveSourceError(
                "dv-net", f"no dv stream header within {timeout:g} s (the peer accepted the connection and "
                          f"sent {len(data)} bytes): is it a DV network output?", uri) from None
        except LiveSourceError:
            raise
        except OSError as exc:
            raise LiveSourceError("dv-net", f"reading the stream header failed: {exc}", uri) from None
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    if data[8:12] != HEADER_ID:
        raise LiveSourceError("dv-net", f"not a dv stream: the first bytes are {data!r}, with no "
                                        f"{HEADER_ID!r} header at bytes 8-12", uri)
    return peer


class DvNetworkSource(DvInputSource):
    """Events from a DV network stream (``dv-net:HOST:PORT``), probed before it is opened."""

    backend = "dv-net"

    def __init__(self, host: str, port: int, *, probe_timeout: float = DEFAULT_PROBE_TIMEOUT_S,
                 stall_timeout: float | None = DEFAULT_STALL_TIMEOUT_S, **kwargs: Any) -> None:
        super().__init__(f"dv-net:{host}:{port}", stall_timeout=stall_timeout, **kwargs)
        peer = probe(host, port, probe_timeout)
        try:
            reader = self._dv.io.NetworkReader(peer, int(port))
        except RuntimeError as exc:
            raise LiveSourceError("dv-net", f"cannot open the stream: {dv_message(exc)}", self.uri) from exc
        self._attach(reader, host=host, port=port)

    def _end_reason(self) -> str:
        return "the stream closed (the sender stopped or the connection broke)"


def open_dv_net(rest: str, **kwargs: Any) -> DvNetworkSource:
    """The opener of ``dv-net:HOST:PORT``."""
    host, port = parse_address(rest)
    return DvNetworkSource(host, port, **kwargs)
