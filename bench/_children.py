"""Worker processes that never outlive the process that started them.

A sweep, a leaderboard and a one-shot leaderboard run their work on process pools.
When the parent dies (``kill -9``, an out-of-memory kill), orphaned workers would go on
computing and writing results under PID 1 while a resumed command writes the same
files, so every pool worker calls :func:`die_with` first.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time

__all__ = ["die_with"]

logger = logging.getLogger(__name__)

#: Seconds between a worker's checks that its parent is still alive.
_PARENT_POLL_S = 1.0
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with(parent: int) -> None:
    """End this process as soon as the process ``parent`` dies, by any signal.

    On Linux the kernel sends this process SIGKILL when its parent dies
    (``prctl(PR_SET_PDEATHSIG)``), at once and also in the middle of its work. As a
    backstop, and on other platforms, a daemon thread checks every
    :data:`_PARENT_POLL_S` seconds that the parent is still ``parent`` (an orphan is
    adopted by another process) and exits otherwise.

    It also gives SIGTERM its default action back. A forked worker inherits the
    parent's handler (the command line turns SIGTERM into an interrupt), and a pool
    ends its other workers with SIGTERM when one dies: each then printed an interrupt's
    traceback from its queue read instead of ending quietly (seen in CI, 2026-12-07).
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            args = (ctypes.c_ulong(int(signal.SIGKILL)), *[ctypes.c_ulong(0)] * 3)
            if libc.prctl(ctypes.c_int(_PR_SET_PDEATHSIG), *args) != 0:
                logger.debug("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
        except (OSError, AttributeError) as e:  # no libc.prctl: the thread below still watches
            logger.debug("no prctl (%s); watching the parent PID only", e)
    if os.getppid() != parent:  # it died before the kernel was told
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(_PARENT_POLL_S)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="nasrepro-watch-parent", daemon=True).start()
