"""The work behind each CLI command, as plain functions the tests call directly.

One module per command group (``medperf dataset prepare`` → ``commands/dataset.py``,
``prepare``). Each function takes a :class:`Session` (the home and the acting user).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from medperf_lite import rules
from medperf_lite.errors import MedperfError
from medperf_lite.home import Home


@dataclass
class Session:
    home: Home
    user: str

    @classmethod
    def current(cls, home: Home | None = None) -> Session:
        home = home or Home()
        return cls(home, home.require_user())

    def run(self, rule, *args, **kwargs):
        """Runs a server rule as this user; returns the rule's value."""
        return self.home.store.run(rule, self.user, *args, **kwargs).value

    def check(self, rule, *args, **kwargs):
        """Asks the rules on the current state without storing anything (before a prompt)."""
        return rule(self.state(), self.user, *args, **kwargs).value

    def state(self) -> rules.State:
        return self.home.store.state()


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
