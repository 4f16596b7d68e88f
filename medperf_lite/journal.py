"""The home's command journal: one JSON line when a `medperf` command starts and one when it
ends (its exit code and, for a refusal, the one-line error). A learner's commands typed in
their own terminal are how the role-play mode sees their progress, and the live view shows
the long-running ones (aggregator, training nodes) from it.

Appends are single short writes to a file opened with O_APPEND, so concurrent commands
never interleave a line; the file is only written in a home that exists already.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medperf_lite.settings import Settings

NAME = "journal.jsonl"
MAX_LINE = 3000  # bytes; argv and messages are cut to fit
MAX_READ = 4 << 20  # the newest 4 MiB are read


@dataclass
class Entry:
    """One command: its start, and its end once it has ended."""

    id: str
    pid: int
    argv: list[str]
    profile: str | None
    started: float
    user: str | None = None
    ended: float | None = None
    exit: int | None = None
    error: str | None = None
    extra: dict = field(default_factory=dict)
    marks: list[str] = field(default_factory=list)  # what it reached: "role" once its long-running task runs

    @property
    def command(self) -> str:
        """The command's group and verb, e.g. 'dataset submit'."""
        words = [a for a in self.argv if not a.startswith("-")]
        return " ".join(words[:2])

    @property
    def help(self) -> bool:
        """The command only asked for its help: it did nothing."""
        return any(a in ("--help", "-h") for a in self.argv)

    @property
    def running(self) -> bool:
        if self.ended is not None:
            return False
        import psutil

        try:
            return psutil.Process(self.pid).create_time() <= self.started + 1
        except psutil.Error:  # gone, or not ours to see
            return False


class Journal:
    def __init__(self, home: Path):
        self.path = Path(home) / NAME

    def _append(self, record: dict) -> None:
        line = json.dumps(record, separators=(",", ":"))
        if len(line) > MAX_LINE:
            record = {**record, "argv": [a[:80] for a in record.get("argv", [])][:30],
                      "error": (record.get("error") or "")[:500] or None}
            line = json.dumps(record, separators=(",", ":"))[:MAX_LINE]
        with contextlib.suppress(OSError):
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (line + "\n").encode())
            finally:
                os.close(fd)

    def begin(self, argv: list[str], profile: str | None) -> str:
        key = uuid.uuid4().hex[:12]
        self._append({"id": key, "pid": os.getpid(), "argv": argv, "profile": profile, "started": time.time()})
        return key

    def acting(self, key: str, user: str) -> None:
        """Who the command acts as, recorded as soon as it is known (a long-running command's
        user shows while it runs)."""
        self._append({"id": key, "acting": user})

    def mark(self, key: str, what: str) -> None:
        """A point the command reached (``role``: past its prompt, its long-running task started)."""
        self._append({"id": key, "mark": what})

    def end(self, key: str, code: int, user: str | None, error: str | None = None) -> None:
        self._append({"id": key, "ended": time.time(), "exit": code, "user": user, "error": error})

    def entries(self) -> list[Entry]:
        """Every command in the order it started, ends merged in; damaged lines are skipped."""
        try:
            with open(self.path, "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - MAX_READ))
                raw = f.read().decode(errors="replace").splitlines()
        except OSError:
            return []
        found: dict[str, Entry] = {}
        for line in raw:
            try:
                record = json.loads(line)
                if "started" in record:
                    found[record["id"]] = Entry(record["id"], int(record["pid"]), [str(a) for a in record["argv"]],
                                                record.get("profile"), float(record["started"]))
                elif record.get("id") in found and "acting" in record:
                    found[record["id"]].user = str(record["acting"])
                elif record.get("id") in found and "mark" in record:
                    found[record["id"]].marks.append(str(record["mark"]))
                elif record.get("id") in found:
                    entry = found[record["id"]]
                    entry.ended, entry.exit = float(record["ended"]), int(record["exit"])
                    entry.user, entry.error = record.get("user") or entry.user, record.get("error")
            except (ValueError, KeyError, TypeError):
                continue
        return list(found.values())


class Recorder:
    """What the CLI's main keeps for the command being run."""

    def __init__(self) -> None:
        self.journal: Journal | None = None
        self.key: str | None = None
        self.user: str | None = None
        self.error: str | None = None

    def begin(self, argv: list[str], current: Settings | None) -> None:
        """Journals the command in ``current``'s home (None: a bad setting, which the command
        itself reports)."""
        if current is None or not current.home.is_dir():
            return
        self.journal = Journal(current.home)
        self.key = self.journal.begin(argv, current.profile)

    def mark(self, what: str) -> None:
        if self.journal and self.key:
            self.journal.mark(self.key, what)

    def act_as(self, user: str) -> None:
        if self.user is None and self.journal and self.key:
            self.journal.acting(self.key, user)
        self.user = user

    def end(self, code: int) -> None:
        if self.journal and self.key:
            self.journal.end(self.key, code, self.user, self.error)
            self.key = None


RECORDER = Recorder()
