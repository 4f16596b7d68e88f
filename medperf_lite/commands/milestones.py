"""One line per milestone for the long-running commands (``aggregator start``, ``dataset
train``), read from the server's records, so a learner's terminal says what is going on and
what comes next: the event's job submitted, each round done (numbered 1..n, as everywhere),
its global accuracy when known, training finished, the event closed.

The container's own output (the FL framework's logs) goes to the task's log file, whose path
is printed; it is shown live too with ``-v`` / MEDPERF_LITE_VERBOSE, or when the output is
not a terminal (scripts and the simulator read it).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

from medperf_lite import net, rules
from medperf_lite.commands import Session
from medperf_lite.entities import event_progress
from medperf_lite.errors import MedperfError

POLL = 0.5  # seconds between looks at the server
AGGREGATOR_LOOK = 3.0  # seconds between a training node's looks at the aggregator's port


def live_output(session: Session) -> bool:
    """Whether the container's own output is streamed to this terminal."""
    return session.settings.verbose or not sys.stdout.isatty()


def _reachable(aggregator: dict, port: str) -> bool:
    """One quick look at the aggregator's ``fl_port`` or ``admin_port``."""
    return net.reachable(aggregator["address"], int(aggregator[port]), timeout=0.2)


class Milestones:
    """Prints the milestones of the experiment's open event until stopped."""

    def __init__(self, session: Session, exp_id: int, who: str, echo: Callable[[str], None] | None = None):
        self.session, self.exp_id, self.who = session, exp_id, who
        self.echo = echo or (lambda line: print(line, flush=True))
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.event_id: int | None = None
        self.said: set[str] = set()
        self.last_look = 0.0

    def say(self, key: str, line: str) -> None:
        if key not in self.said:
            self.said.add(key)
            self.echo(f"{self.who}: {line}")

    def __enter__(self) -> Milestones:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_flag.set()
        self.thread.join(5)
        self.look()  # the last state, once

    def _loop(self) -> None:
        while not self.stop_flag.wait(POLL):
            self.look()

    def _watch_aggregator(self, aggregator: dict) -> None:
        """A training node's view of the aggregator: lost (and back) are said once each time;
        looked at every few seconds only (each look is a connection to its FL port)."""
        now = time.monotonic()
        if now - self.last_look < AGGREGATOR_LOOK:
            return
        self.last_look = now
        if _reachable(aggregator, "fl_port"):
            self.said.discard("aggregator lost")
        elif "aggregator lost" not in self.said:
            self.say("aggregator lost", f"the aggregator at {aggregator['address']}:{aggregator['fl_port']} "
                                        "is not reachable: stopped or not started yet; this node keeps trying for a "
                                        "while, then stops (its owner starts it with `medperf aggregator start`)")

    def look(self) -> None:
        try:
            state = self.session.state()
        except MedperfError:
            return
        if self.event_id is None:  # the open event, followed once found, also after it closes
            found = rules.open_event(state, self.exp_id)
            if found is None:
                return
            self.event_id = found[0]
        event = state["events"][self.event_id]
        aggregator = state["aggregators"][event["aggregator"]]
        exp = self.exp_id
        expected = len(event.get("participants") or {})
        progress = event_progress(event)
        if self.who == "aggregator" and "ready" not in self.said and _reachable(aggregator, "admin_port"):
            self.say("ready", f"ready on {aggregator['address']}:{aggregator['fl_port']} (admin port "
                              f"{aggregator['admin_port']}); waiting for {expected} site(s) to connect")
        if self.who != "aggregator" and event["status"] == "OPEN" and not progress.get("finished"):
            self._watch_aggregator(aggregator)
        for number, failure in enumerate(event["failures"]):
            self.say(f"failure {number}", f"failure recorded on the event: {failure['text']}")
        sites = progress.get("sites_connected") if isinstance(progress.get("sites_connected"), list) else []
        for count, site in enumerate(sites, start=1):
            self.say(f"site {site}", f"site {site} connected ({count} of {expected})")
        if not event.get("job_id"):
            if self.who != "aggregator" or "ready" in self.said:
                self.say("waiting", f"waiting for the admin's `medperf training submit_job --training_exp_id {exp}`")
            return
        self.say("job", "the job is submitted: training starts once enough sites are connected")
        total = progress.get("num_rounds") or "?"
        for entry in progress.get("history") or []:
            number = entry.get("round")
            self.say(f"round {number}", f"round {number} of {total} done")
            accuracy = entry.get("global_val_acc")
            if isinstance(accuracy, int | float):
                self.say(f"accuracy {number}", f"round {number} of {total}: global model's validation accuracy "
                                               f"{accuracy:.3f}")
        if progress.get("finished"):
            self.say("finished", f"training finished ({progress.get('rounds_done')} of {total} rounds); next: the "
                                 f"admin runs `medperf training close_event --training_exp_id {exp}`")
        if event["status"] != "OPEN":
            self.say("closed", f"event '{event['name']}' closed ({event['status']}); stopping")
