"""Teaching aids for a scenario being played: who acts in each step, what each command does
(in our words), a compact diff of the server's records around a step (guided mode), and the
learner's side of role play: their turn, checked through the home's command journal.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import time
from collections.abc import Callable
from pathlib import Path

from medperf_lite.journal import Entry, Journal
from medperf_lite.simulator.scenario import Step

LEARNER_PROFILE = "learner"
READ_ONLY_VERBS = {"ls", "view", "status", "get_experiment_status", "--help", "whoami"}
HINT_LIMIT = 3  # hints per step, then the learner is left to it

EXPLAIN = {
    "auth login": "Sign in as this user. Every later command in this terminal acts as them, until the next login.",
    "auth logout": "Sign out: the next person at this terminal must log in as themselves.",
    "container submit": "Register a container with the server: its config (tasks, image) and, for a prep "
                        "container, its parameters. The server gives it an ID that experiments refer to.",
    "container ls": "List containers; --mine keeps yours only.",
    "training submit": "Define the training experiment: which container prepares data, which one trains (the "
                       "FL container) and which one runs admin commands against the federation.",
    "ca associate": "Pick the certificate authority that signs the participants' certificates for this "
                    "experiment.",
    "aggregator submit": "Register the aggregator: the machine (address and ports) where the FL server will "
                         "listen, and the container it runs.",
    "aggregator associate": "Attach the aggregator to the experiment: the training nodes will dial it.",
    "training set_plan": "Upload the training configuration (NVFlare's project and job). The server makes the "
                         "startup kits: one for the FL server, one per site, one for the admin.",
    "training start_event": "Open a training event with its list of participants: only these data owners "
                            "will get startup kits and may join.",
    "aggregator start": "Start the FL server (NVFlare) in the aggregation container. It runs until the event "
                        "is closed; it waits for the sites to connect and for a job.",
    "dataset submit": "Register the data owner's dataset with the server. The data itself stays on the owner's "
                      "machine: only a hash and some metadata are sent.",
    "dataset prepare": "Run the experiment's prep container on the raw data: it writes the prepared data and "
                       "statistics on the owner's machine.",
    "dataset set_operational": "Mark the prepared dataset ready for use; its statistics are shared with the "
                               "server once the owner agrees.",
    "dataset associate": "Ask to take part in the experiment with this dataset. In this setup the request is "
                         "approved at once.",
    "dataset train": "Start this site's training node (NVFlare client) in the FL container. It connects to the "
                     "aggregator and trains when a job arrives; it ends when the event closes.",
    "training submit_job": "The admin sends the training job to the FL server, which hands it to the connected "
                           "sites: the rounds begin.",
    "training get_experiment_status": "Ask the running federation (through the admin container) how the job "
                                      "and the sites are doing.",
    "training close_event": "Close the event: the federation stops, the final report and the global model are "
                            "kept, and the long-running commands end.",
}
SCRIPT_EXPLAIN = ("A shortcut script: the second data owner's steps (register, prepare, set operational, "
                  "associate, start the training node) in one go, as that user.")
LOGIN = re.compile(r"\bmedperf(?:-lite)?\s+auth\s+login\b.*?-e\s+(\S+)")
LOGOUT = re.compile(r"\bmedperf(?:-lite)?\s+auth\s+logout\b")


def command_of(text: str) -> str | None:
    """The medperf command a step's shell text runs ('dataset submit'), or None."""
    try:
        words = shlex.split(text.replace("\\\n", " "), comments=True)
    except ValueError:
        words = text.split()
    for i, word in enumerate(words):
        if word in ("medperf", "medperf-lite"):
            rest = [w for w in words[i + 1:] if not w.startswith("-")]
            return " ".join(rest[:2]) if rest else None
    return None


def shown(text: str) -> str:
    """A step's command as one line, as a learner would type it."""
    return " ".join(text.replace("\\\n", " ").split())


def acting_users(steps: list[Step]) -> dict[int, str | None]:
    """Who acts in each step: the user logged in by the steps before it (``auth login -e``),
    or the step's own ``user``; a wait on a role is that role's starter's."""
    current, actors, starters = None, {}, {}
    for step in steps:
        spec = step.spec
        text = str(spec.get(step.kind, "")) if step.kind in ("run", "start") else ""
        login, logout = LOGIN.search(text), LOGOUT.search(text)
        if login:
            current = login.group(1)
            actors[step.index] = current
        elif logout:
            actors[step.index], current = current, None
        elif step.kind in ("run", "start"):
            actors[step.index] = spec.get("user") or current
            if step.kind == "start":
                starters[spec["role"]] = actors[step.index]
        elif step.kind == "wait":
            actors[step.index] = starters.get(spec["wait"].get("role"))
        else:
            actors[step.index] = None
    return actors


def explain(step: Step) -> str:
    if step.spec.get("explain"):
        return step.spec["explain"]
    if step.kind in ("run", "start"):
        text = str(step.spec[step.kind])
        command = command_of(text)
        if command in EXPLAIN:
            return EXPLAIN[command]
        if re.search(r"\.sh\b", text):
            return SCRIPT_EXPLAIN
        verb = command.split()[-1] if command else ""
        if verb in ("ls", "view"):  # a look at the server's records, changing nothing
            return f"Look at the server's records: `medperf {command}` changes nothing."
        return "Run a shell command."
    if step.kind == "wait":
        wait = step.spec["wait"]
        if "port" in wait:
            return "Wait until the FL server's admin port accepts connections: the aggregator is up."
        if "state" in wait:
            check = wait["state"]
            return f"Wait until the server's record {check['table']} {check['id']} shows {check.get('path')}."
        if "exit" in wait:
            return f"Wait until role '{wait['role']}' ends by itself."
        return f"Wait until role '{wait['role']}' reports that it is up."
    if step.kind == "kill":
        return f"Stop role '{step.spec['kill']}' abruptly, as a crash would."
    return "Check the server's records."


# ---------------------------------------------------------------------- diff of the server


def _short(value: object, width: int = 60) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= width else text[:width - 1] + "…"


def diff(before: dict, after: dict, limit: int = 12) -> list[str]:
    """What a step changed on the server: records added, removed, and fields changed."""
    lines = []
    for table in sorted(set(before) | set(after)):
        old, new = before.get(table) or {}, after.get(table) or {}
        if not isinstance(old, dict) or not isinstance(new, dict):
            continue
        for key in sorted(set(old) | set(new), key=str):
            singular = table.rstrip("s")
            if key not in old:
                record = new[key]
                label = record.get("name") or record.get("email") or "" if isinstance(record, dict) else ""
                lines.append(f"+ {singular} {key}" + (f" '{_short(label, 40)}'" if label else ""))
            elif key not in new:
                lines.append(f"- {singular} {key}")
            elif old[key] != new[key] and isinstance(old[key], dict) and isinstance(new[key], dict):
                for name in sorted(set(old[key]) | set(new[key])):
                    if old[key].get(name) != new[key].get(name):
                        lines.append(f"~ {singular} {key}: {name} {_short(old[key].get(name), 30)} → "
                                     f"{_short(new[key].get(name))}")
    if len(lines) > limit:
        lines = lines[:limit] + [f"… and {len(lines) - limit} more changes"]
    return lines


# ---------------------------------------------------------------------- the learner's turn


class LearnerTimeout(Exception):
    pass


class Learner:
    """The learner's side of role play: their steps are announced, then their own commands
    (typed in another terminal with ``source learner.env``) are followed in the journal."""

    def __init__(self, email: str, home: Path, say: Callable[[str], None], timeout: float = 600.0,
                 poll: float = 0.3, hints: Path | None = None):
        self.email, self.journal, self._say, self.hints = email, Journal(home), say, hints
        self.timeout, self.poll = timeout, poll
        self.seen: set[str] = set()  # journal entries already judged
        self.roles: dict[str, Entry] = {}  # role -> the learner's long-running command

    def _new_entries(self, since: float) -> list[Entry]:
        return [e for e in self.journal.entries()
                if e.profile == LEARNER_PROFILE and e.started >= since and e.id not in self.seen]

    def say(self, text: str) -> None:
        """To the simulator's window, and to the learner's own terminal: its prompt shows what
        was added to the hints file since (learner.env's PROMPT_COMMAND)."""
        self._say(text)
        if self.hints is not None:
            with contextlib.suppress(OSError), open(self.hints, "a") as f:
                f.write(text + "\n")

    def announce(self, step: Step, text: str) -> None:
        self.say(f"\n  ▶ YOUR TURN, as {self.email}: {explain(step)}\n      $ {shown(text)}\n")

    def turn(self, step: Step, text: str, long_running: bool, wanted_exit: object = 0) -> Entry:
        """Waits for the learner's command for this step: finished with the wanted exit code, or
        (long-running) started and still running; hints after a wrong or failed command."""
        expected = command_of(text)
        login = LOGIN.search(text)
        self.announce(step, text)
        since = time.time() - 1
        deadline = time.monotonic() + self.timeout
        hints = 0
        while time.monotonic() < deadline:
            for entry in self._new_entries(since):
                # the learner's own command: not its help, not one run as somebody else
                # (MEDPERF_LITE_USER=...), and, for a login, as the step's user
                wrong_user = not login and entry.user is not None and entry.user != self.email
                right = entry.command == expected and not entry.help and not wrong_user
                wrong_login = bool(login) and right and login.group(1) not in entry.argv
                # a role is started once its task runs: past its prompt ([y/N] answered), not at its launch
                if right and not wrong_login and long_running and entry.user == self.email \
                        and (("role" in entry.marks and entry.running) or entry.exit == 0):
                    self.seen.add(entry.id)
                    self.say(f"  ✓ you started `medperf {entry.command}` (pid {entry.pid})")
                    return entry
                if entry.ended is None:
                    continue  # still running: judged when it ends
                self.seen.add(entry.id)
                ok = entry.exit == 0 if wanted_exit == 0 else (
                    entry.exit != 0 if wanted_exit == "nonzero" else entry.exit == int(wanted_exit))
                if right and ok and not wrong_login:
                    self.say(f"  ✓ `medperf {entry.command}` done")
                    return entry
                verb = entry.command.split(" ")[-1]
                if hints < HINT_LIMIT and (right or entry.exit != 0 or verb not in READ_ONLY_VERBS):
                    hints += 1
                    if wrong_login:
                        what = f"that login was not as {login.group(1)}"
                    elif entry.help:
                        what = f"that was the help of `medperf {entry.command}`; now run it"
                    elif wrong_user:
                        what = f"`medperf {entry.command}` ran as {entry.user}, not as you ({self.email})"
                    elif entry.error:
                        what = f"`medperf {entry.command}` failed: {entry.error}"
                    else:
                        what = f"`medperf {entry.command}` exited {entry.exit}"
                    self.say(f"  ✗ hint: {what}. The step is:\n      $ {shown(text)}")
            time.sleep(self.poll)
        raise LearnerTimeout(f"the learner did not run `{shown(text)}` within {self.timeout:.0f} s")

    def wait_exit(self, role: str, timeout: float) -> int:
        """Waits for the learner's long-running command of ``role`` to end; its exit code."""
        entry = self.roles[role]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for candidate in self.journal.entries():
                if candidate.id == entry.id and (candidate.ended is not None or not candidate.running):
                    return candidate.exit if candidate.exit is not None else -1
            time.sleep(self.poll)
        raise LearnerTimeout(f"your `{entry.command}` (role {role}) is still running after {timeout:.0f} s")
