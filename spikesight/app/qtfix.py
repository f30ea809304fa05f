"""A guard against a reference-count bug of some PySide6 builds on Python 3.11.

PySide6 6.12.0 on Python 3.11 returns ``None`` from every void method (``setText``, ``update``,
``QPainter.drawLine``...) without taking a reference to it. Python 3.12 made ``None``, ``True``
and ``False`` immortal, so there the bug is harmless; on 3.11 each call drops one reference and
a Qt program dies with "Fatal Python error: none_dealloc" after some tens of thousands of calls
(seconds of drawing). PySide6 6.11 does not have the bug; pin ``PySide6-Essentials<6.12`` where
you can.

Where the bug is present (measured, not guessed from version numbers), :func:`protect_singletons`
gives the three singletons so large a reference count that the leak cannot reach zero in any
realistic run (about 10^12 calls). They are statically allocated and never freed, so this costs
nothing and changes nothing else.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

_PLENTY = 1 << 40
_protected = False


def void_calls_leak_none(calls: int = 64) -> bool:
    """Whether calling a void Qt method drops references to ``None`` (the PySide6 6.12 bug)."""
    if sys.version_info >= (3, 12):
        return False
    from PySide6.QtCore import QObject

    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(calls):
        obj.setObjectName("probe")
    return before - sys.getrefcount(None) >= calls // 2


def protect_singletons() -> bool:
    """Make ``None``/``True``/``False`` practically immortal if this PySide6 leaks them.

    Returns True when the guard was needed (and applied). Cheap to call more than once.
    """
    global _protected
    if _protected:
        return True
    if not void_calls_leak_none():
        return False
    import PySide6

    log.warning("PySide6 %s drops references to None on Python %d.%d; protecting the singletons "
                "(install PySide6-Essentials<6.12 to avoid this)", PySide6.__version__, *sys.version_info[:2])
    for obj in (None, True, False):
        refcnt = ctypes.c_ssize_t.from_address(id(obj))
        refcnt.value = max(refcnt.value, _PLENTY)
    _protected = True
    return True
