"""Peak memory of a process tree, sampled from /proc (no dependencies)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def _table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, rss bytes) for every live process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            rss = int((entry / "statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
        table[int(entry.name)] = (ppid, rss)
    return table


def tree_rss(roots: set[int]) -> int:
    table = _table()
    members, frontier = set(), {r for r in roots if r in table}
    while frontier:
        members |= frontier
        frontier = {pid for pid, (ppid, _) in table.items() if ppid in frontier and pid not in members}
    return sum(table[pid][1] for pid in members)


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
