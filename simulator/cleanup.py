"""A run's end: every role's process group stopped, the run's Docker containers removed, and
every process that still carries the run's ID (sandboxes, job processes) found and killed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

import psutil

from medperf_lite import processes
from medperf_lite.settings import VARIABLES

ROLE_GRACE = 5.0  # seconds a role has to end on SIGTERM before SIGKILL
LINGER = 10.0  # seconds the run's other processes have to go


def run_processes(run_id: str) -> list[int]:
    """PIDs of every live process that carries this run's ID in its environment."""
    found = []
    for process in psutil.process_iter():
        if process.pid != os.getpid():
            with contextlib.suppress(psutil.Error):
                if process.environ().get(VARIABLES["run_id"]) == run_id:
                    found.append(process.pid)
    return found


def remove_containers(run_id: str) -> None:
    import docker
    import requests

    # no engine, or one that does not answer: the run made no container there
    with contextlib.suppress(docker.errors.DockerException, requests.exceptions.RequestException):
        engine = docker.from_env(timeout=10)
        for container in engine.containers.list(all=True, filters={"label": f"medperf-lite.run={run_id}"}):
            container.remove(force=True)


def stop_run(roles: dict[str, subprocess.Popen], runner: str, run_id: str) -> list[int]:
    """Stops everything of the run; returns the PIDs that outlived it (killed now)."""
    for proc in roles.values():
        if proc.poll() is None:
            processes.stop_group(proc, grace=ROLE_GRACE)
    if runner == "docker":
        remove_containers(run_id)
    deadline = time.monotonic() + LINGER  # sandboxes and job processes need a moment to go
    while run_processes(run_id) and time.monotonic() < deadline:
        time.sleep(0.5)
    orphans = run_processes(run_id)
    for pid in orphans:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return orphans
