"""Waits that end as soon as they can no longer succeed, and say why.

A :class:`Watch` looks at a run's signs of failure: a role's process that exited although no
step killed it or waited for its exit, and the failures the server's events recorded (a
role's traceback, a job that ended other than well: ``commands.watch``), or an event closed
while a wait needs it open. :func:`until` polls a condition with the watch beside it; a
failure ends the wait within a second or two, with every cause found, the likeliest first.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from medperf_lite import diagnosis
from medperf_lite.commands.watch import failures_of_progress

DEFAULT_TIMEOUT = 300.0  # seconds of a wait or a step that names none
POLL = 0.2  # seconds between looks while a wait waits
SETTLE = 1.5  # seconds given to the other roles, once one failed, to show their part of it
# ... when the only sign is a process that a role's log says ended: often the echo of another
# site's error (a job aborted after a learner's traceback), which that site's watch may not have
# read yet on a loaded host
CHILD_SETTLE = 5.0
SOFT_GRACE = 10.0  # seconds a wait may still succeed after an error in a role's log


class CannotSucceed(Exception):
    def __init__(self, failures: list[diagnosis.Failure]):
        super().__init__("\n".join(f.paragraph() for f in failures))
        self.failures = failures


class StepFailed(Exception):
    """A step's failure: its message, the role and log it concerns, the causes found."""

    def __init__(self, message: str, role: str | None = None, log: Path | None = None, failures: list | None = None):
        super().__init__(message)
        self.message, self.role, self.log, self.failures = message, role, log, failures or []

    @classmethod
    def because(cls, cannot: CannotSucceed) -> StepFailed:
        """The run failed while the step waited: every cause found, the likeliest first."""
        first = cannot.failures[0]
        return cls(str(cannot), first.role, Path(first.log) if first.log else None,
                   [f.record() for f in cannot.failures])


@dataclass
class Watch:
    roles: dict[str, subprocess.Popen]
    logs: Path
    state: Callable[[], dict]  # the server's state, {} before it exists
    expected: set[str] = field(default_factory=set)  # roles that may exit: killed, or whose exit was awaited
    tolerated: int = 0  # event failures recorded before this count are expected (a step injected a fault)
    seen: dict[str, float] = field(default_factory=dict)  # when each failure was first seen
    harmless: list[str] = field(default_factory=list)  # the scenario's known errors (regexes): not failures

    def expect_exit(self, role: str) -> None:
        self.expected.add(role)

    def tolerate_failures(self) -> None:
        """A step broke something on purpose: what the event records from now on is expected."""
        self.tolerated = 1 << 30

    def accept_recorded(self) -> None:
        """A step that was expected to fail ran: the failures the event records so far are its own."""
        if self.tolerated < (1 << 30):
            self.tolerated += len(self.recorded())

    def exited(self, but: str | None = None) -> list[diagnosis.Failure]:
        found = []
        for name, proc in self.roles.items():
            code = proc.poll()
            if code is None or name in self.expected or name == but:
                continue
            found.append(diagnosis.Failure.of(name, "its command exited", self.logs / f"role-{name}.log", code))
        return found

    def recorded(self, needs_open: bool = False) -> list[diagnosis.Failure]:
        found = []
        for event in (self.state().get("events") or {}).values():
            failures = [diagnosis.Failure.from_record(r) for r in event.get("failures") or []]
            failures += [f for f in failures_of_progress(event.get("progress")) if f not in failures]
            found += failures
            if needs_open and event.get("status") != "OPEN" and not failures:
                found.append(diagnosis.Failure(None, None, f"event '{event.get('name')}' was closed "
                                                           f"({event.get('status')})"))
        found = [f for f in found if not any(re.search(pattern, f.error or "") for pattern in self.harmless)]
        return found[:0] if self.tolerated >= (1 << 30) else found[self.tolerated:]

    def failures(self, but: str | None = None, needs_open: bool = False, roles: bool = True) -> list[diagnosis.Failure]:
        return (self.exited(but) if roles else []) + self.recorded(needs_open)

    def check(self, but: str | None = None, needs_open: bool = False, soft: bool = True, roles: bool = True) -> None:
        """Raises CannotSucceed, with every cause found after a short settle, when the run has
        failed: at once for a role that exited or a job that failed; SOFT_GRACE seconds after an
        error in a role's log was first seen (a framework may log and go on: MedPerf's own node
        logs a traceback in a run that ends well), unless the wait succeeded meanwhile. Without
        ``roles``, a role's exit is not a sign (a step that closes the event ends them)."""
        found = self.failures(but, needs_open, roles)
        hard = [f for f in found if f.ended != diagnosis.LOG_ERROR]
        now = time.monotonic()
        for failure in found:
            self.seen.setdefault(failure.paragraph(), now)
        late = soft and any(now - self.seen[f.paragraph()] >= SOFT_GRACE for f in found if f not in hard)
        if not hard and not late:
            return
        time.sleep(CHILD_SETTLE if hard and all(f.ended == diagnosis.CHILD_ENDED for f in hard) else SETTLE)
        raise CannotSucceed(likeliest_first(self.failures(but, needs_open, roles)))


def likeliest_first(failures: list[diagnosis.Failure]) -> list[diagnosis.Failure]:
    """A task that ended first; then an error in the author's code (a traceback with their
    frame); then a process that a role's log says ended (a job process aborted after another
    site's error ends so too); then other logged errors; training sites before the aggregator.
    Each cause once (the same error, or one that quotes another, as a CLI's line about its task)."""
    def weight(f: diagnosis.Failure) -> int:
        if f.ended not in (diagnosis.LOG_ERROR, diagnosis.CHILD_ENDED):
            return 0
        return 1 if f.where is not None else 2 if f.ended == diagnosis.CHILD_ENDED else 3

    ranked = sorted(failures, key=lambda f: (weight(f), f.where is None, f.error is None, f.role == "aggregator"))
    unique: list[diagnosis.Failure] = []
    for failure in ranked:
        if not any(u.error == failure.error and (u.error or u.role == failure.role) for u in unique):
            unique.append(failure)
    return [f for f in unique if not (f.error and any(u is not f and u.error and u.error in f.error for u in unique))]


def expected(expect: dict, code: int, output: str, log: Path | None, role: str | None = None) -> None:
    """Raises StepFailed unless a finished command's exit code and output are what ``expect``
    (a scenario's ``expect:``) asks."""
    wanted = expect.get("exit", 0)
    if (wanted == "nonzero" and code == 0) or (wanted != "nonzero" and code != int(wanted)):
        raise StepFailed(f"exit code {code}, expected {wanted}", role, log)
    for key in ("output", "error"):
        pattern = expect.get(key)
        if pattern and not re.search(pattern, output, re.MULTILINE):
            raise StepFailed(f"output does not match /{pattern}/", role, log)
    pattern = expect.get("no_output")
    if pattern and re.search(pattern, output, re.MULTILINE):
        raise StepFailed(f"output matches /{pattern}/, it must not", role, log)


def until(condition: Callable[[], str | None], timeout: float, watch: Watch, but: str | None = None,
          needs_open: bool = False) -> str | None:
    """Polls ``condition`` (a description when it holds) until ``timeout``; None then. Raises
    CannotSucceed as soon as the watch sees the run fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        watch.check(but, needs_open)  # first: a run that failed before the wait fails it, met or not
        done = condition()
        if done:
            return done
        time.sleep(POLL)
    return None


def state_holds(state: dict, check: dict) -> tuple[bool, str]:
    """Whether a record of the server's state meets a scenario's check, and its description."""
    record = state.get(check.get("table"), {}).get(int(check.get("id", 0)))
    value = record
    for part in str(check.get("path", "")).split("."):
        if part and isinstance(value, dict):
            value = value.get(part)
        elif part and isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        elif part:
            value = None
    desc = f"{check.get('table')}[{check.get('id')}].{check.get('path')} = {value!r}"
    if record is None:
        return False, f"{check.get('table')} {check.get('id')} does not exist"
    if "equals" in check:
        return value == check["equals"], f"{desc}, expected {check['equals']!r}"
    if "matches" in check:
        return bool(re.search(str(check["matches"]), str(value))), f"{desc}, expected /{check['matches']}/"
    if "gte" in check:
        return value is not None and value >= check["gte"], f"{desc}, expected >= {check['gte']}"
    if "in" in check:
        return value in check["in"], f"{desc}, expected one of {check['in']}"
    return value is not None, desc
