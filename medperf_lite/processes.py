"""The one place that spawns and reaps processes.

Every child runs in its own process group (session) so that it and everything it starts
can be stopped together; SIGINT/SIGTERM received by the parent are forwarded to the
group, and a timeout stops the group (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

GRACE_SECONDS = 10.0


class TimedOut(Exception):
    pass


class Stopped(Exception):
    """The watch asked to stop the process: the reason."""


WATCH_EVERY = 0.5  # seconds between looks of a watch at what it watches


def stop_group(proc: subprocess.Popen, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM to the process group, SIGKILL to what is left after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # stragglers left in the group
            return
        except subprocess.TimeoutExpired:
            continue


def spawn(argv: list[str], *, log: Path | None = None, env: dict | None = None, cwd: Path | None = None,
          stdin: int | IO | None = subprocess.DEVNULL) -> subprocess.Popen:
    """Starts ``argv`` in a new session, output appended to ``log`` (or discarded)."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=stdin, env=env,
                                cwd=cwd, start_new_session=True)
    finally:
        if log:
            out.close()


@contextlib.contextmanager
def on_interrupt(action: Callable[[], None]) -> Iterator[list[int]]:
    """While inside, SIGINT/SIGTERM to us run ``action`` (stop the child); yields the signals seen."""
    seen: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return

    def handle(signum, _frame):
        seen.append(signum)
        action()

    old = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield seen
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def terminate_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)


def _tee(path: Path, offset: int, stop: threading.Event) -> None:
    """Echoes what is appended to ``path`` after ``offset`` to our stdout, until ``stop`` is set."""
    with open(path, "rb") as f:
        f.seek(offset)
        while True:
            chunk = f.read(65536)
            if chunk:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
            elif stop.is_set():
                return
            else:
                time.sleep(0.2)


def wait_watched(proc: subprocess.Popen, timeout: float | None, watch: Callable[[], str | None] | None) -> int:
    """Waits for ``proc``; ``watch()``, asked every WATCH_EVERY seconds, may give a reason to stop
    it (raises Stopped once the group is stopped). Raises subprocess.TimeoutExpired."""
    if watch is None:
        return proc.wait(timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        step = WATCH_EVERY if deadline is None else max(0.0, min(WATCH_EVERY, deadline - time.monotonic()))
        try:
            return proc.wait(step)
        except subprocess.TimeoutExpired:
            if deadline is not None and time.monotonic() >= deadline:
                raise
        reason = watch()
        if reason:
            stop_group(proc)
            raise Stopped(reason)


def run(argv: list[str], *, log: Path, env: dict | None = None, cwd: Path | None = None,
        timeout: float | None = None, echo: bool = False,
        watch: Callable[[], str | None] | None = None) -> tuple[int, list[int]]:
    """Runs to completion; returns (exit code, signals forwarded). Raises TimedOut, or Stopped
    when ``watch`` gives a reason to stop."""
    log.parent.mkdir(parents=True, exist_ok=True)
    log.touch()
    offset = log.stat().st_size  # a log may hold earlier runs; echo only this one
    proc = spawn(argv, log=log, env=env, cwd=cwd)
    stop = threading.Event()
    echoer = threading.Thread(target=_tee, args=(log, offset, stop), daemon=True) if echo else None
    if echoer:
        echoer.start()
    try:
        with on_interrupt(lambda: terminate_group(proc)) as seen:
            try:
                code = wait_watched(proc, timeout, watch)
            except subprocess.TimeoutExpired:
                stop_group(proc)
                raise TimedOut() from None
            finally:
                if proc.poll() is None:
                    stop_group(proc)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # nothing of the task outlives it
        return code, seen
    finally:
        stop.set()
        if echoer:
            echoer.join(2)
