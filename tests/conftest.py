import os
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# the tests use small tensors: one thread avoids oversubscribing CI's two cores
torch.set_num_threads(1)

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def settings(tmp_path):
    """The viewer's QSettings in a file of the test's own (never the user's)."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, settings):
    """``make(pipelines=(), size=(1200, 800), **kw)``: a shown ``MainWindow`` on the test's settings
    (``size=None`` keeps Qt's default size); every window made is closed and disposed after the test."""
    from spikesight.app.launch import dispose
    from spikesight.app.main_window import MainWindow

    made = []

    def make(pipelines=(), size=(1200, 800), **kw):
        kw.setdefault("settings", settings)
        w = MainWindow(pipelines, **kw)
        if size is not None:
            w.resize(*size)
        w.show()
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()
        dispose(w)  # pyqtgraph items left to the interpreter's exit can crash it


_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session, exitstatus):
    _EXIT_STATUS.append(int(exitstatus))


def pytest_unconfigure(config):
    """Leave without finalizing the interpreter, once pytest has reported and chosen its status.

    Threads of C extensions that tests leave behind (dv-processing readers, Qt's thread pool, numba
    compiling in a worker) can still be running while CPython tears down its modules, and then the
    process crashes at exit after every result is in (seen: a segfault, an LLVM assertion). The
    report and the exit status are pytest's own; the threads still alive are named on stderr.
    """
    import sys
    import threading

    _stop_shared_pools()
    alive = [t.name for t in threading.enumerate()
             if t is not threading.main_thread() and t.is_alive() and _still_there(t)]
    if alive:
        names = ", ".join(alive)
        print(f"conftest: leaving with {len(alive)} thread(s) still running: {names}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    if _EXIT_STATUS:
        os._exit(_EXIT_STATUS[0])


def _stop_shared_pools() -> None:
    """Join the threads that process-wide pools keep idle between uses: ECF's coding pool, Qt's
    global thread pool (the viewer's engines run there) and tqdm's progress-bar monitor."""
    import sys

    from spikesight.io.ecf import close_pool

    close_pool()
    tqdm = getattr(sys.modules.get("tqdm"), "tqdm", None)
    if tqdm is not None and tqdm.monitor is not None:
        tqdm.monitor.exit()
    if "PySide6.QtCore" in sys.modules:
        from PySide6.QtCore import QThreadPool

        QThreadPool.globalInstance().waitForDone(10_000)


def _still_there(thread) -> bool:
    """Whether ``thread`` still runs: a thread started outside ``threading`` (``Dummy-N``, such as
    Qt's) stays listed after it exits, so on Linux its kernel task is looked for."""
    import threading

    if not isinstance(thread, threading._DummyThread) or not os.path.isdir("/proc/self/task"):
        return True
    return os.path.isdir(f"/proc/self/task/{thread.native_id}")
