"""How a person follows a run (the guide, role play and the live view): the hooks the
engine's Run calls around its steps, kept apart from playing the steps themselves."""

from __future__ import annotations

import contextlib
import shlex
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from medperf_lite import settings
from medperf_lite.home import Home
from medperf_lite.simulator import coach, picture, report, waits
from medperf_lite.simulator.scenario import Step
from medperf_lite.simulator.waits import DEFAULT_TIMEOUT, StepFailed

BIN = Path(sys.executable).parent


@dataclass
class Teaching:
    """How a person follows a run: ``guide`` explains each step and pauses before it (until
    Enter, or ``auto`` seconds); ``play`` is the user whose steps the learner types themselves."""

    guide: bool = False
    auto: float | None = None
    round_pause: float = 0.0  # seconds between rounds (our training config's controller)
    play: str | None = None
    play_timeout: float = 600.0
    web: bool = False  # a live page is served (set by simulate --web)


GUIDE_LINES = 12  # a step's output shown in the guide (the rest is in its log)


class Teachable:
    """The teaching hooks of a Run (``self`` is the Run: its plan, teaching, learner, home...)."""

    def _server_state(self) -> dict:
        return Home(self.home).store.state() if (self.home / "server" / "db.json").exists() else {}

    def _guide_before(self, step: Step, spec: dict) -> dict:
        actor = self.actors.get(step.index)
        who = f"as {actor}" if actor else "by the simulator"
        role = f", role '{spec['role']}'" if spec.get("role") else ""
        where = f"step {step.index} of {len(self.plan.steps)}" if step.index <= len(self.plan.steps) else "final check"
        self.say(f"\n── {where}: {step.name} ({who}{role})\n"
                 f"   {coach.explain(step)}")
        if step.kind in ("run", "start"):
            self.say(f"   $ {coach.shown(spec[step.kind])}")
        if self.teaching.auto is not None:
            time.sleep(self.teaching.auto)
        elif not self._learners(step, spec):
            self._wait_for_next()
        return self._server_state()

    def _wait_for_next(self) -> None:
        """Enter in the terminal runs the step; with the live page served, its Next button too
        (one line read from stdin in a thread, or the page's POST /next: whichever comes)."""
        if not self.live:
            self.say("   [Enter] runs it")
            with contextlib.suppress(EOFError):
                input()
            return
        self.say("   [Enter] runs it (or Next on the live page)")
        self.next_step.clear()
        if not getattr(self, "_reader", None):
            def read_lines() -> None:
                for _ in sys.stdin:  # EOF: the page's button is the only way on
                    self.next_step.set()
            self._reader = threading.Thread(target=read_lines, daemon=True)
            self._reader.start()
        self.waiting_next = True
        try:
            self.next_step.wait()
        finally:
            self.waiting_next = False

    def _guide_output(self, step: Step) -> None:
        """A run step's own output in the guide (the IDs `container ls --mine` shows, which the
        tutorial asks you to note): its last GUIDE_LINES lines, then where the rest is."""
        log = self.logs / f"{step.index:02d}-step.log"
        if step.kind != "run" or not log.is_file():
            return
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        for line in lines[-GUIDE_LINES:]:
            self.say(f"      │ {line[:200]}")
        if len(lines) > GUIDE_LINES:
            self.say(f"      │ ... {len(lines) - GUIDE_LINES} lines before these in {log}")

    def _invite_learner(self) -> None:
        """The learner's own profile in this run's home, and the file their terminal sources."""
        profiles = Home(self.home).profiles() if (self.home / "config.yaml").exists() else {}
        if coach.LEARNER_PROFILE not in profiles:
            self.home.mkdir(parents=True, exist_ok=True)
            Home(self.home).create_profile(coach.LEARNER_PROFILE)
        machine = {k: v for k, v in settings.child_environment().items() if k.startswith("MEDPERF_LITE_")}
        # a scenario whose steps name their user (MedPerf main's script) never logs the learner in:
        # their terminal then acts as them from the start, as the simulator's steps do
        logs_in = any(step.kind == "run" and (found := coach.LOGIN.search(str(step.spec["run"])))
                      and found.group(1) == self.teaching.play for step in self.plan.steps)
        user = None if logs_in else self.teaching.play
        env = {**settings.to_env(home=self.home, profile=coach.LEARNER_PROFILE, runner=self.runner, user=user),
               **machine}
        hints = self.workdir / "learner.hints"  # the coach's words, shown at the learner's next prompt
        hints.write_text("")
        show = f'if [ -s {shlex.quote(str(hints))} ]; then cat {shlex.quote(str(hints))}; : > {shlex.quote(str(hints))}; fi'
        lines = [f"cd {shlex.quote(str(self.workdir))}", *(f"export {k}={shlex.quote(v)}" for k, v in env.items()),
                 f"export PATH={shlex.quote(str(BIN))}:\"$PATH\"", 'PS1="(learner) ${PS1:-$ }"',
                 f"PROMPT_COMMAND={shlex.quote(show)}"]
        source = self.workdir / "learner.env"
        source.write_text("\n".join(lines) + "\n")
        self.learner = coach.Learner(self.teaching.play, self.home, self.say, self.teaching.play_timeout, hints=hints)
        self.say(f"\nYou play {self.teaching.play}; the simulator plays everyone else.\n"
                 f"Open another terminal (one per long-running command) and run:\n    source {source}\n"
                 f"then type your steps when asked. Each waits up to {self.teaching.play_timeout:.0f} s."
                 + ("" if logs_in else f"\nThat terminal acts as {user} (this scenario's steps name their user)."))

    def _learners(self, step: Step, spec: dict) -> bool:
        """Is this step the learner's to do?"""
        if not self.learner:
            return False
        if step.kind == "wait":
            return spec["wait"].get("role") in self.learner.roles
        if step.kind == "kill":
            return spec["kill"] in self.learner.roles
        return step.kind in ("run", "start") and self.actors.get(step.index) == self.learner.email

    def _learner_step(self, step: Step, spec: dict) -> str:
        try:
            if step.kind == "run" and coach.LOGOUT.search(spec["run"]):
                return "the learner's logout: optional"
            if step.kind == "run":
                entry = self.learner.turn(step, spec["run"], False, spec.get("expect", {}).get("exit", 0))
                return f"the learner's `{entry.command}`: exit {entry.exit}"
            if step.kind == "start":
                self.learner.roles[spec["role"]] = self.learner.turn(step, spec["start"], True)
                return f"the learner started role '{spec['role']}'"
            if step.kind == "kill":
                raise StepFailed(f"role '{spec['kill']}' is the learner's own terminal; the simulator does not kill it")
            wait = spec["wait"]
            if "exit" not in wait:
                return f"the learner's role '{wait['role']}' is running"
            code = self.learner.wait_exit(wait["role"], float(wait.get("timeout", DEFAULT_TIMEOUT)))
            waits.expected({"exit": wait["exit"]}, code, "", None, wait["role"])
            return f"the learner's role '{wait['role']}' exited {code}"
        except coach.LearnerTimeout as e:
            raise StepFailed(str(e)) from None

    def live_state(self) -> dict:
        """What the live view shows of this run."""
        from medperf_lite.simulator import live

        done = {r.index: r for r in self.results}
        steps = []
        for step in self.plan.steps:
            r = done.pop(step.index, None)
            status = ("ok" if r.ok else f"failed: {r.detail}") if r else (
                "running" if step.index == self.current else "pending")
            steps.append({"index": step.index, "name": step.name, "status": status,
                          "seconds": round(r.seconds, 1) if r else None})
        steps += [{"index": r.index, "name": r.name, "status": "ok" if r.ok else f"failed: {r.detail}",
                   "seconds": round(r.seconds, 1)} for r in done.values()]
        roles = []
        for step in self.plan.steps:
            if step.kind != "start" or any(r["name"] == step.spec["role"] for r in roles):
                continue
            name = step.spec["role"]
            proc = self.roles.get(name)
            entry = self.learner.roles.get(name) if self.learner else None
            if entry:
                status, pid = "running (the learner's terminal)", entry.pid
            elif proc is None:
                status, pid = "waiting (not started yet)", None
            else:
                code = proc.poll()
                status, pid = ("running" if code is None else f"stopped (exit {code})"), proc.pid
            # one read of its log: the lines shown, and its latest milestone further back
            lines = live.tail(self.logs / f"role-{name}.log", self.logs, lines=4000, nbytes=live.MILESTONE_BYTES)
            roles.append({"name": name, "status": status, "pid": pid, "user": self.actors.get(step.index),
                          "command": coach.command_of(str(step.spec["start"])), "log": lines[-live.TAIL_LINES:],
                          "milestone": picture.latest_milestone(lines)})
        state = self._server_state()
        events = report.events(self.home, state)
        current = next((s for s in self.plan.steps if s.index == self.current), None)
        banner, text = None, ""
        if current is not None:
            text = str(current.spec.get(current.kind, "")) if current.kind in ("run", "start") else ""
            banner = {"step": f"step {current.index} of {len(self.plan.steps)}: {current.name}",
                      "who": self.actors.get(current.index) or "the simulator", "explain": coach.explain(current),
                      "command": coach.shown(text) if text else ""}
        step = {"command": coach.command_of(text) if text else None}
        changes = {"step": self.last_changes[0], "lines": self.last_changes[1]} if self.last_changes else None
        return {"title": f"scenario {self.plan.name} ({self.runner} runner)", "elapsed": time.monotonic() - self.started,
                "next": self.waiting_next,
                "roles": roles, "steps": steps, "events": events, "rounds": live.rounds(events),
                "finished": self.finished, "banner": banner, "federation": picture.federation(state, roles, step),
                "records": picture.records(state), "changes": changes}
