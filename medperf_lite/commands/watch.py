"""What a long-running role (``aggregator start``, ``dataset train``) watches beside its
container, so that it never waits on something that can no longer progress:

- its task's log: the first Python traceback there (the exception and the author's frame: an
  error that may not be fatal), or a line that reports a process's non-zero exit (fatal), is
  recorded on the event as the role's failure and said once;
- the published progress report (contract.PROGRESS_FORMAT): a job that ended other than well
  is recorded on the event, one failure per site whose log shows an error (aggregator only);
- the event: once it is closed the container has ``stop_grace`` seconds to exit on its own
  (it was told to stop by the admin's stop_federation), then it is stopped; a cancelled event
  stops it at once.

Everything here is read from the server's records, exit codes and log text: no FL framework.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from medperf_lite import diagnosis, rules
from medperf_lite.commands import Session
from medperf_lite.containers import contract
from medperf_lite.errors import MedperfError

LOOK_EVERY = 1.0  # seconds between looks at the server and the log
READ_ANYWAY = 10.0  # seconds after which the server's records are read even if they look unchanged
SCAN_LIMIT = 1 << 16  # bytes of a log read from a traceback on


class LogScanner:
    """Finds the first error appended to a log, reading only what is new: a whole Python
    traceback, or a line that reports a process's non-zero exit code."""

    def __init__(self, log: Path):
        self.log, self.offset = log, 0

    def __call__(self) -> diagnosis.Found | None:
        try:
            with open(self.log, "rb") as f:
                f.seek(self.offset)
                chunk = f.read(SCAN_LIMIT)
        except OSError:
            return None
        at = chunk.find(diagnosis.TRACEBACK.encode())
        if at < 0:
            whole = chunk.rfind(b"\n") + 1  # whole lines only: a marker is never cut
            self.offset += whole
            return diagnosis.child_exit(chunk[:whole].decode(errors="replace"))
        found = diagnosis.first_traceback(chunk[at:].decode(errors="replace"))
        if found is None and len(chunk) == SCAN_LIMIT:  # a traceback with no end in the window: past it
            self.offset += at + len(diagnosis.TRACEBACK)
        return found  # None: the traceback is still being written; read again next time


def failures_of_progress(progress: object) -> list[diagnosis.Failure]:
    """The failures a progress report announces: one per site whose log shows an error (the
    sites first: their error is usually the cause), else one for the job."""
    failed = contract.progress_failure(progress)
    if failed is None:
        return []
    status, logs = failed
    found = []
    for name in sorted(logs, key=lambda n: (n == "server", n)):
        error = diagnosis.first_error(logs[name])
        if error:
            found.append(diagnosis.Failure(name, name, f"the FL job ended {status}", None, error.error, error.where,
                                           None))
    return found or [diagnosis.Failure("aggregator", None, f"the FL job ended {status}")]


class RoleWatch:
    """The watch handed to the runner for a long-running role's task (see the module's text)."""

    def __init__(self, session: Session, exp_id: int, event_id: int, role: str, site: str | None, log: Path,
                 say: Callable[[str], None], publisher: bool = False):
        self.session, self.exp_id, self.event_id, self.role, self.site = session, exp_id, event_id, role, site
        self.log, self.say, self.publisher = log, say, publisher
        self.scanner = LogScanner(log)
        self.logged: diagnosis.Found | None = None
        self.recorded_progress = False
        self.stopped_after_close = False  # stopped once its event had closed well (FINISHED), not cancelled
        self.closed_at: float | None = None
        self.last = 0.0
        self.version: tuple[int, int, int] | None = None  # the store's version self.event was read at
        self.event: dict | None = None
        self.read_at = 0.0

    def _event(self) -> dict | None:
        """The event's record, read again only when the store was written since the last look
        (a waiting role of each site looks every second: at 32 sites, reading the whole store
        each time cost 2.4 s of CPU per site)."""
        version, now = self.session.home.store.version(), time.monotonic()
        # and every READ_ANYWAY seconds: two writes in one timestamp tick could look alike
        if version is None or version != self.version or now - self.read_at > READ_ANYWAY:
            try:
                self.event = self.session.state()["events"][self.event_id]
            except (MedperfError, KeyError):
                return None
            self.version, self.read_at = version, now
        return self.event

    def record(self, failure: diagnosis.Failure) -> None:
        with contextlib.suppress(MedperfError):  # the event closed meanwhile: nothing to record on
            self.session.run(rules.record_failure, self.exp_id, failure.record())

    def __call__(self) -> str | None:
        now = time.monotonic()
        if now - self.last < LOOK_EVERY:
            return None
        self.last = now
        if self.logged is None:
            self.logged = self.scanner()
            if self.logged is not None:
                failure = diagnosis.Failure(self.role, self.site, self.logged.ended, None, self.logged.error,
                                            self.logged.where, str(self.log))
                self.say(f"an error in the container's log: {self.logged}; the federation may not recover "
                         f"(log: {self.log})")
                self.record(failure)
        event = self._event()
        if event is None:
            return None
        if self.publisher and not self.recorded_progress:
            failures = failures_of_progress(event["progress"])
            if failures:
                self.recorded_progress = True
                for failure in failures:
                    self.record(failure)
        if event["status"] == rules.OPEN:
            return None
        if event["status"] == rules.CANCELLED:
            return f"event '{event['name']}' was cancelled"
        if self.closed_at is None:
            self.closed_at = now
        grace = self.session.settings.stop_grace
        if now - self.closed_at >= grace:
            self.stopped_after_close = event["status"] == rules.FINISHED
            return f"event '{event['name']}' was closed {grace:.0f} s ago and the container had not exited"
        return None
