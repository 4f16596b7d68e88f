"""The work behind each CLI command, as plain functions the tests call directly.

One module per command group (``medperf dataset prepare`` → ``commands/dataset.py``,
``prepare``). Each function takes a :class:`Session` (the home and the acting user).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from medperf_lite import rules
from medperf_lite.errors import MedperfError
from medperf_lite.home import Home
from medperf_lite.journal import RECORDER
from medperf_lite.settings import Settings


@dataclass
class Session:
    home: Home
    user: str

    @classmethod
    def current(cls, home: Home) -> Session:
        """The session of ``home``'s user (its settings' user, else its profile's login)."""
        session = cls(home, home.require_user())
        if RECORDER.user is None and RECORDER.key and sys.stderr.isatty():  # a person's terminal: say who acts
            print(f"(as {session.user})", file=sys.stderr, flush=True)
        RECORDER.act_as(session.user)
        return session

    @property
    def settings(self) -> Settings:
        return self.home.settings

    def run(self, rule, *args, **kwargs):
        """Runs a server rule as this user; returns the rule's value."""
        return self.home.store.run(rule, self.user, *args, **kwargs).value

    def check(self, rule, *args, **kwargs):
        """Asks the rules on the current state without storing anything (before a prompt)."""
        return rule(self.state(), self.user, *args, **kwargs).value

    def state(self) -> rules.State:
        return self.home.store.state()

    def own_path(self, location: str | Path) -> str:
        """A path argument, refused when it points into the server's folder or another user's
        local storage (their "machine"): nobody reads those through a command."""
        text = str(location)
        if "://" in text and not text.startswith("file://"):
            return text
        path = Path(text.removeprefix("file://")).expanduser().resolve()
        users = (self.home.root / "users").resolve()
        if path.is_relative_to(self.home.root / "server") or (
                path.is_relative_to(users) and not path.is_relative_to(users / self.user)):
            raise MedperfError(f"{text} is in the server's storage or another user's local storage; "
                               "give a path of your own")
        return text


def confirm(question: str, yes: bool) -> None:
    """Asks on stdin (terminal or not); end of input answers no. A 'no' changes nothing."""
    if yes:
        return
    print(f"{question} [y/N]: ", end="", flush=True)
    answer = sys.stdin.readline()
    if not answer:
        print()
        raise MedperfError("cancelled (no answer on stdin): nothing was changed")
    if answer.strip().lower() not in ("y", "yes"):
        raise MedperfError("cancelled: nothing was changed")
