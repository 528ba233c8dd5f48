"""The helper threads of a run (its watch, its page's server) are started and joined here.

A Ctrl-C that lands inside ``Thread.start()`` leaves the thread about to run but not yet
joinable; whoever closes the run waits a moment for it (it then ends at once: it was told
to) rather than leave it behind or fail to join it.

>>> import threading
>>> thread = threading.Thread(target=lambda: None)
>>> wait_started(thread, grace=0.01)  # never started
False
>>> thread.start(); wait_started(thread), thread.join()
(True, None)
"""

from __future__ import annotations

import threading
import time


def wait_started(thread: threading.Thread, grace: float = 1.0) -> bool:
    """Whether ``thread`` runs (or ran), waiting up to ``grace`` seconds for a thread whose
    ``start()`` was called to begin; False for the calling thread itself."""
    if thread is threading.current_thread():
        return False
    deadline = time.monotonic() + grace
    while thread.ident is None and time.monotonic() < deadline:
        time.sleep(0.001)
    return thread.ident is not None
