"""medperf-lite for other projects' test suites: a pytest plugin, loaded through the
``pytest11`` entry point once medperf-lite is installed.

Fixtures:

- ``medperf_home``: an isolated medperf-lite home (server, profiles, users' storage) for the test.
- ``medperf_cli``: runs the real ``medperf`` CLI in a subprocess against that home, as a given
  user: ``medperf_cli("dataset ls", user="testdo@example.com")`` returns the exit code and output.
- ``medperf_scenario``: plays a scenario by name (``tutorial``, ``data_owners``, ...) or file,
  with overrides (variables, other container folders), and returns its report; a failed
  scenario fails the test with the failing step and the last lines of its role's log, which
  is what JUnit XML shows.

A container author checks their preparation container against the tutorial's data-owner steps:

    def test_my_prep(medperf_scenario):
        report = medperf_scenario("data_owners", containers={"prep": "containers/my_prep"})
        assert all(step["ok"] for step in report["steps"])
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from medperf_lite import settings

BIN = Path(sys.executable).parent


class ScenarioFailed(AssertionError):
    """A scenario did not pass; the message names the step and shows its log's tail."""


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class MedperfCLI:
    """The real ``medperf`` command line against one home, as a user chosen per call."""

    def __init__(self, home: Path, runner: str | None = None):
        self.home, self.runner = home, runner

    def env(self, user: str | None = None) -> dict:
        env = settings.child_environment(keep=(), home=self.home, runner=self.runner, user=user)
        env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
        return env

    def __call__(self, command: str | list[str], user: str | None = None, input: str = "",
                 cwd: Path | str | None = None, timeout: float = 300) -> CliResult:
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        done = subprocess.run([str(BIN / "medperf"), *argv], env=self.env(user), cwd=cwd, input=input,
                              capture_output=True, text=True, timeout=timeout)
        return CliResult(done.returncode, done.stdout, done.stderr)

    def as_user(self, user: str) -> _AsUser:
        return _AsUser(self, user)


@dataclass
class _AsUser:
    cli: MedperfCLI
    user: str

    def __call__(self, command: str | list[str], **kwargs) -> CliResult:
        return self.cli(command, user=self.user, **kwargs)


def failure_message(report: dict) -> str:
    """The first failing step of a report, its detail and its log's tail (or the failing checks)."""
    failed = [s for s in report["steps"] if not s["ok"]]
    if not failed:
        return f"scenario '{report['scenario']}' left processes behind: {report['orphans']}"
    step = failed[0]
    where = f" (role '{step['role']}')" if step.get("role") else ""
    lines = [f"scenario '{report['scenario']}' failed at step {step['index']} '{step['name']}'{where}: {step['detail']}"]
    if step.get("log_tail"):
        lines.append("last lines of " + (f"role '{step['role']}'" if step.get("role") else "the step") + "'s log:")
        lines += [f"    {line}" for line in step["log_tail"]]
    lines.append(f"report: {report['workdir']}/report.md")
    return "\n".join(lines)


def pytest_addoption(parser):
    group = parser.getgroup("medperf-lite")
    group.addoption("--medperf-runner", default=None, choices=("local", "docker"),
                    help="container runner for medperf-lite's fixtures (default: MEDPERF_LITE_RUNNER or local)")


@pytest.fixture
def medperf_runner(request) -> str:
    return request.config.getoption("--medperf-runner") or settings.current().runner


@pytest.fixture
def medperf_home(tmp_path) -> Path:
    """An isolated medperf-lite home for this test (created on first use)."""
    return tmp_path / "medperf-home"


@pytest.fixture
def medperf_cli(medperf_home, medperf_runner) -> MedperfCLI:
    return MedperfCLI(medperf_home, medperf_runner)


@pytest.fixture
def medperf_scenario(tmp_path, medperf_runner):
    """``play(name_or_file, vars=None, containers=None, timings="fast", runner=None)`` plays a
    scenario in its own work folder and returns the report; failing, it fails the test."""
    from medperf_lite.simulator.engine import Overrides, simulate

    count = 0

    def play(name: str | Path, vars: dict | None = None, containers: dict | None = None, timings: str = "fast",
             runner: str | None = None) -> dict:
        nonlocal count
        count += 1
        overrides = Overrides(vars=dict(vars or {}),
                              containers={k: Path(v).resolve() for k, v in (containers or {}).items()})
        ok, _, report = simulate(str(name), runner=runner or medperf_runner, workdir=tmp_path / f"scenario-{count}",
                                 echo=False, timings=timings, overrides=overrides)
        if not ok or report["orphans"]:
            raise ScenarioFailed(failure_message(report))
        return report

    return play
