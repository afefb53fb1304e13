"""A progress bar that moves while joblib worker processes work.

A worker process cannot call the parent's tqdm bar. Each task gets a
:class:`FileCounter` instead, which appends one byte per unit of work (a
model-epoch) to its own file in a temporary folder; a thread in the parent
reads the files' sizes a few times a second and moves the bar. A task that
ends is counted in full, whatever its file says.
"""

import os
import shutil
import tempfile
import threading

#: Seconds between two readings of the counts.
POLL_SECONDS = 0.25


class FileCounter:
    """``counter(n)`` records ``n`` more units of work done; pickles to workers."""

    def __init__(self, path):
        self.path = path

    def __call__(self, n=1):
        with open(self.path, "ab") as f:
            f.write(b"." * int(n))


class FileProgress:
    """Move ``bar`` from the counts that worker processes write to files.

    Use as a context manager: the polling thread starts on entry and stops
    on exit, after a last reading, and the folder is removed.

    Parameters
    ----------
    bar : tqdm bar (anything with ``update(n)``)
    interval : float or None
        Seconds between readings; None means :data:`POLL_SECONDS`.
    """

    def __init__(self, bar, interval=None):
        self.bar = bar
        self.interval = POLL_SECONDS if interval is None else interval
        self.folder = None
        self._shown = {}  # task -> units shown on the bar
        self._full = {}  # task -> units of a task that ended
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    def counter(self, task):
        """The :class:`FileCounter` of task ``task`` (any hashable name)."""
        with self._lock:
            self._shown.setdefault(task, 0)
        return FileCounter(os.path.join(self.folder, f"{task}.count"))

    def done(self, task, units):
        """Task ``task`` ended after ``units`` units: count them all now."""
        with self._lock:
            self._full[task] = units
            self._move(task, units)

    def _move(self, task, units):
        delta = units - self._shown.get(task, 0)
        if delta > 0:
            self._shown[task] = units
            self.bar.update(delta)

    def _read(self):
        with self._lock:
            for task in list(self._shown):
                if task in self._full:
                    continue
                try:
                    units = os.path.getsize(os.path.join(self.folder, f"{task}.count"))
                except OSError:  # not started yet
                    continue
                self._move(task, units)

    def _poll(self):
        while not self._stop.wait(self.interval):
            self._read()

    def __enter__(self):
        self.folder = tempfile.mkdtemp(prefix="skmem-progress-")
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._read()
        shutil.rmtree(self.folder, ignore_errors=True)
        return False
