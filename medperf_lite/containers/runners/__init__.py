"""The runners: a task of a container run as MedPerf runs it (task.py: TaskRun, its mounts,
environment and failure), by the local bubblewrap sandbox (local.py) or the Docker engine
(docker.py); ``choose`` picks one by name."""

from __future__ import annotations

from medperf_lite.containers.runners.task import RUNNERS, Runner, TaskRun, has_task, log_tail, sanitize  # noqa: F401
from medperf_lite.errors import MedperfError
from medperf_lite.settings import Settings


def choose(config: Settings) -> Runner:
    """The runner ``config.runner`` names, with its settings: the run's ID (the simulator's
    cleanup key, given to every task), the image store, the user's site."""
    if config.runner == "local":
        from medperf_lite.containers.runners.local import LocalRunner

        return LocalRunner(config)
    if config.runner == "docker":
        from medperf_lite.containers.runners.docker import DockerRunner

        return DockerRunner(config)
    raise MedperfError(f"unknown runner '{config.runner}'; choose one of: {', '.join(RUNNERS)}")
