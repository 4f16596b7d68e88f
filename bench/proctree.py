"""Peak memory of process trees, sampled with psutil."""

from __future__ import annotations

import threading

import psutil


def tree_rss(roots: set[int]) -> int:
    """The resident memory of every process in the trees under ``roots``, in bytes."""
    total = 0
    for root in roots:
        try:
            parent = psutil.Process(root)
            members = [parent, *parent.children(recursive=True)]
        except psutil.Error:
            continue
        for process in members:
            try:
                total += process.memory_info().rss
            except psutil.Error:
                pass
    return total


class PeakMemory:
    """Samples the RSS of the trees under ``roots()`` every ``interval`` seconds."""

    def __init__(self, roots, interval: float = 0.5):
        self.roots, self.interval, self.peak = roots, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, tree_rss(set(self.roots())))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
