"""Driving the real `medperf` CLI in subprocesses, as a user would."""

from __future__ import annotations

import hashlib
import shlex
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def _free_ports(count: int) -> tuple[int, ...]:
    from medperf_lite.simulator.ports import free_ports

    return tuple(free_ports(count))


# the tutorial aggregator's FL and admin ports for this test process: free when chosen, so
# parallel workers and other runs on the machine never share them
PORTS = _free_ports(2)
REPO = Path(__file__).resolve().parent.parent


def cli_env(home: Path, user: str | None = None, **extra: str) -> dict:
    """The environment the pytest plugin's CLI runner gives a command, with ``extra`` on top."""
    from medperf_lite.pytest_plugin import MedperfCLI

    return {**MedperfCLI(home).env(user), **extra}


def medperf(command: str, home: Path, user: str | None = None, cwd: Path | None = None, input: str | None = None,
            timeout: float = 300, **extra: str) -> subprocess.CompletedProcess:
    """Runs `medperf COMMAND` (a shell-like string, as typed in the tutorial)."""
    return subprocess.run([str(BIN / "medperf"), *shlex.split(command)], env=cli_env(home, user, **extra),
                          cwd=cwd, input=input if input is not None else "", capture_output=True, text=True,
                          timeout=timeout)


def tree_digest(folder: Path) -> str:
    """One hash of every file (path and bytes) below a folder, the lock file aside: equal
    digests mean a byte-identical folder, e.g. the server's after a refused command."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "db.lock"):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def settings_for(runner: str = "local", **changes):
    """This test process's settings (the plugin's entry built them from the environment), with
    ``runner`` and any other setting changed: what a test carries into the library's calls."""
    from medperf_lite import settings

    return settings.current().but(runner=runner, **changes)


def run_containers(engine, run_id: str) -> list:
    """The containers of one run still in the engine: its tasks and site holders carry its run ID,
    so a Docker test on the other worker, with its own, is not counted."""
    return engine.containers.list(all=True, filters={"label": f"medperf-lite.run={run_id}"})
