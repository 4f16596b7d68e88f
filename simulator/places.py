"""Where a run's steps happen: the network mode (a site per user, or the host's), each step's
site and environment, and its variables filled in. A mixin of the engine's Run (``self`` is
the Run: its plan, overrides, teaching, sites, variables...)."""

from __future__ import annotations

import re

from medperf_lite import settings
from medperf_lite.containers import sitenet
from medperf_lite.errors import MedperfError
from medperf_lite.simulator import scenario, variables
from medperf_lite.simulator.scenario import Step
from medperf_lite.simulator.teaching import BIN

DEFAULT_SITE = "(default user)"  # the site of a step that names no user


class Placed:
    def _network_mode(self) -> str:
        """A site per user (sites): in the local runner a network namespace each, where this host
        allows it; in Docker an address each on a network of the run's. One network (host) when
        asked, or when a person follows the run (--guide, --play, --web)."""
        asked = self.overrides.network
        if asked == "sites":
            why = sitenet.available() if self.runner == "local" else None
            if why:
                raise MedperfError(why)
            if self.teaching.play:
                raise MedperfError("--play types steps in your own terminal, on this host's network: use --network host")
            return "sites"
        if asked == "host" or self.followed:
            return "host"
        return "sites" if self.runner == "docker" or sitenet.available() is None else "host"

    def env(self, user: str | None = None, step: Step | None = None) -> dict:
        # the caller's MEDPERF_LITE_* settings stay out of a run, but for the machine's: its image store, debug
        env = settings.child_environment(home=self.home, runner=self.runner, run_id=self.run_id)
        env.update({"PATH": f"{BIN}:{env.get('PATH', '')}", "TMPDIR": str(self.workdir / "tmp")})
        env.update({k: str(v) for k, v in self.vars.items() if k.startswith("MEDPERF_LITE_")})
        env.update(settings.to_env(user=user))
        if self.sites and step is not None:
            env.update(self.sites.environment(self.site_of(step, {"user": user})))
        return env

    def site_of(self, step: Step, spec: dict) -> str:
        """Whose site a step runs in: its acting user's (its ``user``, or who the steps before
        logged in, as MedPerf's scripts do), else the default user's."""
        actor = self.actors.get(step.index)
        return str(self.filled_plain(actor) if actor else spec.get("user") or DEFAULT_SITE)

    def command(self, step: Step, spec: dict, script: str) -> list[str]:
        """A step's command, in its user's site when each user has one."""
        return (self.sites.enter(self.site_of(step, spec)) if self.sites else []) + ["bash", "-c", script]

    def aggregator_site(self) -> str:
        """The site of the user who registers the aggregator (its address is the server's name)."""
        for step in self.plan.steps:
            if step.kind == "run" and re.search(r"\baggregator submit\b", str(step.spec.get("run", ""))):
                return self.site_of(step, step.spec)
        return DEFAULT_SITE

    def say(self, text: str) -> None:
        if self.echo:
            print(text, flush=True)

    def derived(self, name: str) -> object:
        return variables.derived(name, self._server_state())

    def filled_plain(self, value):
        return scenario.fill(value, self.vars, derive=self.derived)

    def filled(self, step: Step):
        """The step's spec with its variables; {{HOST}} is its user's site address when each user
        has one (``hostname -I`` on their machine)."""
        if not self.sites:
            return self.filled_plain(step.spec)
        spec = self.filled_plain({k: v for k, v in step.spec.items() if k == "user"})
        known = {**self.vars, "HOST": self.sites.address(self.site_of(step, spec))}
        return scenario.fill(step.spec, known, derive=self.derived)
