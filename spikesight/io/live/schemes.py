"""Registers the live sources with :func:`spikesight.io.open_source`: ``dv:``, ``dv-net:``,
``prophesee:`` and ``metavision:``.

Importing this module costs nothing: each back end's package (dv-processing,
neuromorphic-drivers, the Metavision SDK) loads only when a source of its scheme is opened.
"""

from __future__ import annotations

from typing import Any

from ..source import EventSource


def _open_dv(rest: str, **kwargs: Any) -> EventSource:
    from .dv import open_dv

    return open_dv(rest, **kwargs)


def _open_dv_net(rest: str, **kwargs: Any) -> EventSource:
    from .dv_net import open_dv_net

    return open_dv_net(rest, **kwargs)


def _open_prophesee(rest: str, **kwargs: Any) -> EventSource:
    from .prophesee import open_prophesee

    return open_prophesee(rest, **kwargs)


def _open_metavision(rest: str, **kwargs: Any) -> EventSource:
    from .metavision import open_metavision

    return open_metavision(rest, **kwargs)


OPENERS = {"dv": _open_dv, "dv-net": _open_dv_net, "prophesee": _open_prophesee,
           "metavision": _open_metavision}


def register_live_schemes() -> None:
    """Make ``open_source`` know the live schemes (idempotent)."""
    from .. import register_scheme

    for name, opener in OPENERS.items():
        register_scheme(name, opener)


register_live_schemes()
