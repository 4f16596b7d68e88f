"""Why something failed, in one paragraph: read from what the core can see of any container
(exit codes and log text), never from an FL framework's internals.

``first_error(text)`` finds the first Python traceback in a log (its exception, and the last
frame in the author's own code as ``file:line``, library frames skipped), else the last line
that says error or failed. ``Failure`` is the paragraph: which role and site, what ended and
its exit code, that error, the log's path. It travels as a plain dict (the event's record,
the reports, JUnit, the pytest plugin) and is printed with :meth:`Failure.paragraph`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

TRACEBACK = "Traceback (most recent call last):"
FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+), in ')
# an exception line: a dotted class name, then ": message" (or nothing)
EXCEPTION = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?::\s?.*)?$")
LIBRARY = ("/site-packages/", "/dist-packages/", "<frozen ", "/lib/python3", "/usr/lib/python")
ERROR_LINE = re.compile(r"(?i)(^|\s)(error|failed|fatal|exception)\b[:\s]")
READ_LIMIT = 4 << 20  # bytes of a log read: its head, where the first error of a run is
LINE_LIMIT = 400
# a log line that reports a process's non-zero exit ("... finished with RC -9", "exited with code 1")
CHILD_EXIT = re.compile(r"(?i)\b(?:exit(?:ed)?(?: with)?(?: code| status)?|return ?code|RC)[ =:]+(-?[1-9]\d*)\b")
LOG_ERROR = "an error in its log"  # what ended, for a traceback in a running role's log: maybe not fatal
CHILD_ENDED = "a process it started ended with an error"  # a log line reports a non-zero exit: fatal


@dataclass(frozen=True)
class Found:
    error: str  # "NameError: name 'x' is not defined", or the error line itself
    where: str | None = None  # "custom/train.py:50": the last frame in the author's code
    ended: str = LOG_ERROR  # what a running role's log says ended: LOG_ERROR or CHILD_ENDED

    def __str__(self) -> str:
        return f"{self.error} (at {self.where})" if self.where else self.error


def _short(path: str) -> str:
    parts = Path(path).parts
    return "/".join(parts[-2:]) if len(parts) > 1 else path


CHAINED = ("During handling of the above exception", "The above exception was the direct cause")


def _traceback(lines: list[str], start: int) -> tuple[Found | None, int]:
    """The exception and the author's last frame of the traceback that starts at ``start``,
    and the index of its exception line."""
    where = None
    for i in range(start + 1, min(len(lines), start + 400)):
        line = lines[i]
        frame = FRAME.match(line)
        if frame:
            if not any(mark in frame.group(1) for mark in LIBRARY):
                where = f"{_short(frame.group(1))}:{frame.group(2)}"
            continue
        if not line.strip() or line.startswith((" ", "\t")) or set(line.strip()) <= set("^~ "):
            continue  # source lines and their carets
        if EXCEPTION.match(line.strip()):
            return Found(line.strip()[:LINE_LIMIT], where), i
        return None, i
    return None, start


def _chained(lines: list[str], end: int) -> bool:
    """Another traceback follows this one's exception: the last of the chain is what ended it."""
    for line in lines[end + 1:end + 30]:
        if line.strip():
            return line.strip().startswith(CHAINED)
    return False


def first_traceback(text: str) -> Found | None:
    """The exception of the first whole Python traceback in ``text`` (of a chain, the last)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if TRACEBACK in line:
            found, end = _traceback(lines, i)
            if found and not _chained(lines, end):
                return found
    return None


def first_error(text: str) -> Found | None:
    """The first error a log shows: a Python traceback's exception, else its last error line."""
    found = first_traceback(text)
    if found:
        return found
    errors = [line.strip() for line in text.splitlines() if ERROR_LINE.search(line) and TRACEBACK not in line]
    return Found(errors[-1][:LINE_LIMIT]) if errors else None


def last_line(text: str) -> Found | None:
    """A log's last line (what a process said as it ended), without its colours."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in text[-8192:].splitlines()]
    lines = [line for line in lines if line]
    return Found(lines[-1][:LINE_LIMIT]) if lines else None


def child_exit(text: str) -> Found | None:
    """The first line that reports a process's non-zero exit."""
    for line in text.splitlines():
        if CHILD_EXIT.search(line):
            return Found(re.sub(r"\x1b\[[0-9;]*m", "", line).strip()[:LINE_LIMIT], ended=CHILD_ENDED)
    return None


def read_log(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        with open(path, "rb") as f:
            return f.read(READ_LIMIT).decode(errors="replace")
    except OSError:
        return ""



@dataclass
class Failure:
    """Why a role or a step failed."""

    role: str | None = None  # the scenario's role, or the command ("dataset train")
    site: str | None = None  # the participant it ran for
    ended: str | None = None  # what ended: "its container exited", "the FL job ended FINISHED:EXECUTION_EXCEPTION"
    exit_code: int | None = None
    error: str | None = None
    where: str | None = None
    log: str | None = None

    @classmethod
    def of(cls, role: str | None, ended: str, log: Path | None = None, exit_code: int | None = None,
           site: str | None = None, found: Found | None = None, text: str | None = None) -> Failure:
        """A failure whose error is read from ``text`` (or ``log``) unless ``found`` gives it."""
        text = text if text is not None else read_log(log)
        found = found or first_traceback(text) or (last_line(text) if exit_code else first_error(text))
        return cls(role, site, ended, exit_code, found.error if found else None, found.where if found else None,
                   str(log) if log else None)

    def paragraph(self) -> str:
        who = f"role '{self.role}'" if self.role else "the step"
        if self.site and self.site != self.role:
            who += f" (site {self.site})"
        code = f" with exit code {self.exit_code}" if self.exit_code is not None else ""
        text = f"{who}: {self.ended or 'failed'}{code}."
        if self.error:
            text += f" First error: {self.error}" + (f", at {self.where}" if self.where else "") + "."
        if self.log:
            text += f" Log: {self.log}"
        return text

    def record(self) -> dict:
        """The event's record of it (string fields, as rules.record_failure keeps them)."""
        return {**{k: v for k, v in asdict(self).items()}, "text": self.paragraph()}

    @classmethod
    def from_record(cls, record: dict) -> Failure:
        fields = {k: record.get(k) for k in ("role", "site", "ended", "error", "where", "log")}
        code = record.get("exit_code")
        return cls(**fields, exit_code=int(code) if isinstance(code, str) and code.lstrip("-").isdigit() else code)
