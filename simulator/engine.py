"""Plays a scenario: every role is its own OS process (group) with its own log, in a fresh
home with free loopback ports; everything started is stopped on success, failure, timeout
and Ctrl-C, and the run checks that no process of it is left (by its run ID).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

from medperf_lite import net, processes
from medperf_lite.commands import tutorial
from medperf_lite.containers import sitenet
from medperf_lite.containers.runners import log_tail
from medperf_lite.errors import MedperfError
from medperf_lite.simulator import cleanup, coach, ports, report, scenario, variables, waits
from medperf_lite.simulator.places import Placed
from medperf_lite.simulator.report import StepResult
from medperf_lite.simulator.scenario import Overrides, Scenario, Step
from medperf_lite.simulator.teaching import BIN, Teachable, Teaching
from medperf_lite.simulator.waits import DEFAULT_TIMEOUT, StepFailed

RETRY_PAUSE = 1.0  # seconds between runs of a step with retry:
LANES = 8  # owners' blocks run side by side at most (each a CLI and its containers, on a 2-core host)


class Run(Placed, Teachable):
    def __init__(self, plan: Scenario, runner: str, workdir: Path, echo: bool = True, timings: str = "fast",
                 overrides: Overrides | None = None, teaching: Teaching | None = None):
        self.plan, self.runner, self.workdir, self.echo, self.timings = plan, runner, workdir, echo, timings
        self.teaching = teaching or Teaching()
        self.actors = coach.acting_users(plan.steps)
        if self.teaching.play and self.teaching.play not in self.actors.values():
            users = sorted({a for a in self.actors.values() if a})
            raise MedperfError(f"no step of scenario '{plan.name}' acts as {self.teaching.play}; "
                               f"play one of: {', '.join(users)}")
        self.learner: coach.Learner | None = None
        self.current: int | None = None
        self.finished = False
        self.live = False  # a live page is served: steps keep what they changed
        self.next_step, self.waiting_next = threading.Event(), False  # the guide's Enter, or the page's Next
        self.last_changes: tuple[str, list[str]] | None = None
        self.overrides = overrides or Overrides()
        self.overrides.check()
        self.home = workdir / "home"
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.run_id = uuid.uuid4().hex[:12]
        self.followed = bool(self.teaching.guide or self.teaching.play or self.teaching.web)  # a person follows
        fl_port, admin_port = ports.teaching_ports(self.say) if self.followed else ports.free_ports(2)
        self.vars = variables.initial(plan, runner, workdir, (fl_port, admin_port), self.overrides.vars)
        self.network = self._network_mode()
        self.sites: sitenet.SiteNet | None = None  # made when the steps begin, with its reaper
        self.reaper: subprocess.Popen | None = None
        self.site_addresses: dict[str, str] = {}  # each user's site address, for the report
        self.roles: dict[str, subprocess.Popen] = {}
        self.watch = waits.Watch(self.roles, self.logs, self._server_state, harmless=list(plan.tolerate))
        self.results: list[StepResult] = []
        self.started = time.monotonic()
        self.orphans: list[int] = []

    # ------------------------------------------------------------------ the run

    def execute(self) -> bool:
        (self.workdir / "tmp").mkdir(exist_ok=True)

        def on_signal(_signum, _frame):  # a SIGTERM ends the run as Ctrl-C does: cleaned up, reported
            raise KeyboardInterrupt

        old = signal.signal(signal.SIGTERM, on_signal)
        try:
            if self.network == "sites":  # first: the tutorial's server name is the aggregator's site address
                self.sites = sitenet.SiteNet.create(self.run_id, "netns" if self.runner == "local" else "docker")
                self.reaper = sitenet.start_reaper(self.sites)
            if self.plan.tutorial_init:
                self._setup()
            if self.teaching.play:
                self._invite_learner()
            if all(self._step_or_group(step) for step in scenario.batches(self.plan.steps, not self.followed)):
                self._final_checks()
        except KeyboardInterrupt:
            self.results.append(StepResult(len(self.results) + 1, "interrupted", "run", False, 0.0, "interrupted"))
        finally:
            self.current = None
            # a second Ctrl-C or SIGTERM must not cut the cleanup short (roles, containers, sites left)
            old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            try:
                self.cleanup()
            finally:
                signal.signal(signal.SIGINT, old_int)
                signal.signal(signal.SIGTERM, old)
            self.finished = True
        return self.ok

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results) and not self.orphans

    def _setup(self) -> None:
        args = ["tutorial", "init", str(self.workdir), "--ports", f"{self.vars['FL_PORT']},{self.vars['ADMIN_PORT']}",
                "--timings", self.timings, "--data-owners", str(self.plan.owners), "--flow", self.plan.flow]
        images = self.overrides.images or self.plan.images
        args += ["--images", str(images)] if images else []
        args += ["--containers", str(self.overrides.source)] if self.overrides.source else []
        args += ["--round-pause", str(self.teaching.round_pause)] if self.teaching.round_pause else []
        args += ["--address", self.sites.address(self.aggregator_site())] if self.sites else []
        args.append("--no-build")  # built below, for this run's runner
        log = self.logs / "00-setup.log"
        code, _ = processes.run([str(BIN / "medperf-lite"), *args], log=log, env=self.env(), timeout=300)
        if code != 0:
            raise MedperfError(f"tutorial init failed: {log_tail(log)}")
        for name, folder in self.overrides.containers.items():  # as `tutorial init --containers` lays them out
            tutorial.lay_out_container(name, folder, self.workdir / "medperf_tutorial" / "containers" / name)
        self._build_images(log)

    def _build_images(self, log: Path) -> None:
        """Images for the tutorial's containers (tutorial.image_folders), built for this run's
        runner by the CLI in the run's home, so its pins name what this run built (another run
        may build the same name from another folder); cached by content (MedPerf's examples
        need the shipped substitutions for their torch pins)."""
        from medperf_lite.containers.substitutions import SUBSTITUTIONS

        for folder in tutorial.image_folders(self.workdir / "medperf_tutorial"):
            code, _ = processes.run([str(BIN / "medperf-lite"), "image", "build", str(folder), "--substitutions",
                                     str(SUBSTITUTIONS), "--for", self.runner], log=log, env=self.env(), timeout=1800)
            if code != 0:
                raise MedperfError(f"image build of the tutorial's containers failed: {log_tail(log)}")

    def _step_or_group(self, item: Step | list[Step]) -> bool:
        if isinstance(item, Step):
            return self._step(item)
        lanes: dict[int, list[Step]] = {}
        for step in item:
            lanes.setdefault(step.lane, []).append(step)
        with ThreadPoolExecutor(max_workers=min(len(lanes), LANES)) as pool:
            done = list(pool.map(lambda steps: all(self._step(s) for s in steps), lanes.values()))
        self.results.sort(key=lambda r: r.index)
        return all(done)

    def _step(self, step: Step) -> bool:
        try:
            spec = self.filled(step)
        except MedperfError as e:
            self.results.append(StepResult(step.index, step.name, step.kind, False, 0.0, e.message))
            self.say(f"  ✗ {step.index:>2}. {step.name}\n      {e.message}")
            return False
        step = replace(step, name=scenario.fill_name(step.name, self.vars, self.derived))
        if self.echo and sys.stdout.isatty():
            print(f"  … {step.index:>2}. {step.name}", end="\r", flush=True)
        self.current = step.index
        before = self._guide_before(step, spec) if self.teaching.guide else None
        records = self._server_state() if self.live else None  # the live page shows what the step changed
        started = time.monotonic()
        try:
            if self._learners(step, spec):
                detail = self._learner_step(step, spec)
            else:
                detail = getattr(self, f"_{step.kind}")(step, spec) or ""
            result = StepResult(step.index, step.name, step.kind, True, time.monotonic() - started, detail,
                                spec.get("role"))
        except waits.CannotSucceed as e:
            e = StepFailed.because(e)
            result = self._failed(step, spec, e, started)
        except StepFailed as e:
            result = self._failed(step, spec, e, started)
        result.started = round(started - self.started, 2)
        self.results.append(result)
        self.current = None
        after = self._server_state() if records is not None or before is not None else None
        if records is not None:
            self.last_changes = (step.name, coach.diff(records, after, limit=20))
        if before is not None:
            self._guide_output(step)
            changes = coach.diff(before, after)
            self.say("      server: " + ("\n              ".join(changes) if changes else "no change"))
        mark = "✓" if result.ok else "✗"
        self.say(f"  {mark} {step.index:>2}. {step.name} ({result.seconds:.1f} s)"
                 + ("" if result.ok else f"\n      {result.detail}"))
        if not result.ok and result.log_tail:
            self.say("      last lines of " + (f"role '{result.role}'" if result.role else "the step") + "'s log:")
            for line in result.log_tail:
                self.say(f"        {line}")
        return result.ok

    @staticmethod
    def _failed(step: Step, spec: dict, e: StepFailed, started: float) -> StepResult:
        tail = log_tail(e.log, 15).split(" | ") if e.log else []
        return StepResult(step.index, step.name, step.kind, False, time.monotonic() - started, e.message,
                          e.role or spec.get("role"), tail, failures=e.failures)

    # ------------------------------------------------------------------ step kinds

    def _log_for(self, step: Step, role: str | None = None) -> Path:
        return self.logs / (f"role-{role}.log" if role else f"{step.index:02d}-step.log")

    def _run(self, step: Step, spec: dict) -> str:
        """Runs to completion; with ``retry: SECONDS`` reruns until the expectations hold."""
        deadline = time.monotonic() + float(spec.get("retry", 0))
        while True:
            try:
                return self._run_once(step, spec)
            except StepFailed:
                if time.monotonic() >= deadline:
                    raise
                self.watch.check()  # no use trying again once the run has failed
                time.sleep(RETRY_PAUSE)

    def _run_once(self, step: Step, spec: dict) -> str:
        log = self._log_for(step)
        log.unlink(missing_ok=True)
        proc = None
        expects_failure = str(spec.get("expect", {}).get("exit", 0)) != "0"
        try:
            proc = processes.spawn(self.command(step, spec, spec["run"]), log=log, env=self.env(spec.get("user"), step),
                                   cwd=self.workdir, stdin=subprocess.PIPE)
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(spec.get("input", "").encode())
                proc.stdin.close()

            def run_failed() -> str | None:  # a long step (a script's `sleep 120`) ends on what the event records
                if not expects_failure:  # a command meant to fail records its own failure: not the run's
                    self.watch.check(soft=False, roles=False)
                return None

            processes.wait_watched(proc, float(spec.get("timeout", DEFAULT_TIMEOUT)), run_failed)
        except subprocess.TimeoutExpired:
            processes.stop_group(proc)
            raise StepFailed(f"timed out after {spec.get('timeout', DEFAULT_TIMEOUT)} s", log=log) from None
        finally:
            if proc is not None and proc.poll() is None:
                processes.stop_group(proc)
        output = log.read_text(errors="replace")
        waits.expected(spec.get("expect", {}), proc.returncode, output, log)
        if expects_failure:
            self.watch.accept_recorded()  # what it recorded on the event was the point of the step
        return f"exit {proc.returncode}"

    def _start(self, step: Step, spec: dict) -> str:
        role = spec["role"]
        if role in self.roles and self.roles[role].poll() is None:
            raise StepFailed(f"role '{role}' is already running")
        log = self._log_for(step, role)
        log.unlink(missing_ok=True)
        proc = self.roles[role] = processes.spawn(self.command(step, spec, spec["start"]), log=log,
                                                  env=self.env(spec.get("user"), step), cwd=self.workdir,
                                                  stdin=subprocess.PIPE)  # tracked at once, for cleanup
        if proc.stdin:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(spec.get("input", "").encode())
                proc.stdin.close()
        return f"pid {proc.pid}"

    def _wait(self, step: Step, spec: dict) -> str:
        wait = spec["wait"]
        timeout = float(wait.get("timeout", DEFAULT_TIMEOUT))
        role = wait.get("role")
        log = self._log_for(step, role) if role else None
        if "exit" in wait:
            proc = self._role(role)
            self.watch.expect_exit(role)
            try:
                code = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                raise StepFailed(f"role '{role}' still running after {timeout:.0f} s", role, log) from None
            waits.expected({"exit": wait["exit"], "output": wait.get("output")}, code, log.read_text(errors="replace"),
                         log, role)
            return f"role '{role}' exited {code}"
        if role:
            self._role(role)

        def holds() -> str | None:
            if "log" in wait and log.exists() and re.search(wait["log"], log.read_text(errors="replace"), re.MULTILINE):
                return "log matched"
            if "port" in wait and (self.sites.reachable(int(wait["port"])) if self.sites
                                   else net.reachable("127.0.0.1", int(wait["port"]), timeout=1)):
                return f"port {wait['port']} listening"
            if "state" in wait and waits.state_holds(self._server_state(), wait["state"])[0]:
                return "state reached"
            return None

        done = waits.until(holds, timeout, self.watch, needs_open=wait.get("state", {}).get("table") == "events")
        if done:
            return done
        what = wait.get("log") or wait.get("port") or waits.state_holds(self._server_state(), wait.get("state", {}))[1]
        raise StepFailed(f"timed out after {timeout:.0f} s waiting for {what}", role, log)

    def _role(self, role: str) -> subprocess.Popen:
        if role not in self.roles:
            raise StepFailed(f"no role '{role}' was started")
        return self.roles[role]

    def _kill(self, step: Step, spec: dict) -> str:
        role = spec["kill"]
        proc = self._role(role)
        sig = getattr(signal, f"SIG{spec.get('signal', 'KILL')}")
        self.watch.expect_exit(role)
        self.watch.tolerate_failures()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
        return f"role '{role}' sent {sig.name}"

    def _check(self, step: Step, spec: dict) -> str:
        holds, description = waits.state_holds(self._server_state(), spec["check"])
        if not holds:
            raise StepFailed(f"state check failed: {description}")
        return description

    def _final_checks(self) -> None:
        for i, check in enumerate(self.plan.checks, start=1):
            step = Step("check", check.get("name", f"final check {i}"), {"check": check}, len(self.results) + 1)
            if not self._step(step):
                return

    # ------------------------------------------------------------------ cleanup

    def cleanup(self) -> None:
        self.orphans = cleanup.stop_run(self.roles, self.runner, self.run_id)
        if self.sites:
            self.site_addresses = dict(self.sites.sites)
            self.orphans += self.sites.remove()  # a process still in a site is one that outlived the run
            sitenet.stop_reaper(self.reaper)
            self.sites = None
        if self.orphans:
            self.say(f"  ✗ {len(self.orphans)} process(es) of this run outlived it; killed: {self.orphans}")

    def report(self) -> dict:
        return report.build(self, [asdict(r) for r in self.results])


def simulate(name: str, runner: str = "local", workdir: Path | None = None, keep: bool = False,
             junit: Path | None = None, echo: bool = True, timings: str = "fast",
             overrides: Overrides | None = None, teaching: Teaching | None = None,
             web: int | None = None) -> tuple[bool, Path, dict]:
    """Runs a scenario (a name in scenarios/ or a file); returns (passed, workdir, report)."""
    plan = scenario.load(name, overrides.vars if overrides else None)
    their_fl = overrides.their_fl(plan.flow) if plan.with_their_fl and overrides else None
    if their_fl is not None:
        if echo:
            print(f"scenario {plan.name}: the FL container {their_fl} is not medperf-lite's own, so its progress "
                  f"comes from the FL framework's own signals: playing {plan.with_their_fl} (the same commands)")
        plan = scenario.load(str(plan.path.parent / f"{plan.with_their_fl}.yaml"), overrides.vars)
    made = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix=f"medperf-lite-{plan.name}-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    teaching = teaching or Teaching()
    teaching.web = web is not None
    run = Run(plan, runner, workdir, echo, timings, overrides, teaching)
    if echo:
        print(f"scenario {plan.name} ({runner} runner) in {workdir}")
    try:
        if web is None:
            run.execute()
        else:
            from medperf_lite.simulator.live import serve_run

            serve_run(run, workdir, web)
    finally:
        ports.release()  # the tutorial's ports are free for the next teaching run
    data = run.report()
    if junit:
        report.junit(data, junit)
    if echo:
        print(f"{'PASSED' if run.ok else 'FAILED'}: {plan.name} in {data['seconds']:.1f} s; report: "
              f"{workdir / 'report.md'}")
    if made and run.ok and not keep:  # the report, plot, logs and server (model, kits) stay; toy data goes
        for bulky in ("medperf_tutorial", "tmp"):
            shutil.rmtree(workdir / bulky, ignore_errors=True)
    return run.ok, workdir, data


def run_cli(name: str, runner: str, keep: bool, junit: Path | None, workdir: Path | None,
            timings: str = "fast", containers: Path | None = None, teaching: Teaching | None = None,
            web: int | None = None, variables: dict[str, object] | None = None, data_owners: int | None = None,
            network: str | None = None) -> None:
    overrides = Overrides(vars=dict(variables or {}), source=containers.resolve() if containers else None,
                          network=network)
    if data_owners is not None:
        if not scenario.load(name).repeats:
            raise MedperfError(f"scenario '{name}' has no steps that repeat per data owner: --data-owners does not "
                               "apply to it (it does to tutorial, federation and data_owners)")
        overrides.vars["OWNERS"] = data_owners
    ok, _, _ = simulate(name, runner=runner, workdir=workdir, keep=keep, junit=junit, timings=timings,
                        overrides=overrides, teaching=teaching, web=web)
    if not ok:
        raise MedperfError(f"scenario '{name}' failed")
