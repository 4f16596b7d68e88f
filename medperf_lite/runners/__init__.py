"""The runners: a task of a container run as MedPerf runs it (task.py: TaskRun, its mounts,
environment and failure), by the local bubblewrap sandbox (local.py) or the Docker engine
(docker.py); ``choose`` picks one by name."""

from __future__ import annotations

from medperf_lite.errors import MedperfError
from medperf_lite.runners.task import RUNNERS, Runner, TaskRun, has_task, log_tail, sanitize  # noqa: F401


def choose(name: str, run_id: str | None = None) -> Runner:
    """The runner called ``name``; ``run_id`` (the simulator's cleanup key) goes to every task."""
    if name == "local":
        from medperf_lite.runners.local import LocalRunner

        return LocalRunner(run_id)
    if name == "docker":
        from medperf_lite.runners.docker import DockerRunner

        return DockerRunner(run_id)
    raise MedperfError(f"unknown runner '{name}'; choose one of: {', '.join(RUNNERS)}")
