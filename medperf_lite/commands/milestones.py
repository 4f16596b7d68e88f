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

from medperf_lite import net
from medperf_lite.commands import Session
from medperf_lite.errors import MedperfError

POLL = 0.5  # seconds between looks at the server
AGGREGATOR_LOOK = 3.0  # seconds between a training node's looks at the aggregator's port


def live_output(session: Session) -> bool:
    """Whether the container's own output is streamed to this terminal."""
    return session.settings.verbose or not sys.stdout.isatty()


def _event(state: dict, exp_id: int, event_id: int | None) -> tuple[int | None, dict | None]:
    events = state.get("events", {})
    if event_id is not None:
        return event_id, events.get(event_id)
    open_events = [eid for eid, e in events.items() if e["experiment"] == exp_id and e["status"] == "OPEN"]
    return (open_events[-1], events[open_events[-1]]) if open_events else (None, None)


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
        up = net.reachable(aggregator.get("address", "127.0.0.1"), int(aggregator.get("fl_port") or 0), timeout=0.2)
        if up:
            self.said.discard("aggregator lost")
        elif "aggregator lost" not in self.said:
            self.say("aggregator lost", f"the aggregator at {aggregator.get('address')}:{aggregator.get('fl_port')} "
                                        "is not reachable: stopped or not started yet; this node keeps trying for a "
                                        "while, then stops (its owner starts it with `medperf aggregator start`)")

    def look(self) -> None:
        try:
            state = self.session.state()
        except MedperfError:
            return
        self.event_id, event = _event(state, self.exp_id, self.event_id)
        if event is None:
            return
        exp = self.exp_id
        expected = len(event.get("participants") or {})
        progress = event.get("report") or event.get("progress") or {}
        if self.who == "aggregator" and "ready" not in self.said:
            aggregator = state["aggregators"].get(event["aggregator"]) or {}
            if net.reachable(aggregator.get("address", "127.0.0.1"), int(aggregator.get("admin_port") or 0), timeout=0.2):
                self.say("ready", f"ready on {aggregator['address']}:{aggregator['fl_port']} (admin port "
                                  f"{aggregator['admin_port']}); waiting for {expected} site(s) to connect")
        if self.who != "aggregator" and event["status"] == "OPEN" and not progress.get("finished"):
            self._watch_aggregator(state["aggregators"].get(event["aggregator"]) or {})
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
