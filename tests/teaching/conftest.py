"""The teaching demos' tests: a real browser on the live view, a learner's terminal in tmux.
They skip with a reason when Chromium or tmux is absent, unless MEDPERF_LITE_REQUIRE_TEACHING
is set (CI installs both and sets it)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import BIN, REPO, cli_env

ARTIFACTS = Path(os.environ.get("MEDPERF_LITE_ARTIFACTS", REPO / "artifacts"))


def need(tool: str, why: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("MEDPERF_LITE_REQUIRE_TEACHING"):
            pytest.fail(f"{tool} is required here ({why}) but not installed")
        pytest.skip(f"{tool} is not installed ({why}); `make setup` installs it")
    return path


class Simulation:
    """A `medperf-lite simulate` run in its own process group, stopped at the end whatever happens."""

    def __init__(self, args: list[str], workdir: Path, home: Path):
        self.workdir = workdir
        self.log = workdir.parent / f"{workdir.name}.out"
        self.out = open(self.log, "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen([str(BIN / "medperf-lite"), "simulate", *args, "--workdir", str(workdir)],
                                     env=cli_env(home), stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, path: Path, timeout: float = 180) -> Path:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{path} did not appear; simulate said:\n{self.text()[-3000:]}")
            time.sleep(0.2)
        return path

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)  # the run stops its roles on it
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.out.close()


@pytest.fixture
def simulation(tmp_path):
    started = []

    def start(*args: str) -> Simulation:
        run = Simulation(list(args), tmp_path / "run", tmp_path / "caller-home")
        started.append(run)
        return run

    yield start
    for run in started:
        run.stop()
