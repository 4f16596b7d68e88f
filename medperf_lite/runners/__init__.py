"""Container runners: one interface, two implementations with the same contract.

A :class:`TaskRun` names a container record, one of its tasks, and the host path of each
of the task's volumes; the runner makes every volume visible at its ``mount_path``
(inputs read-only), runs the task's command, writes its output to ``log`` and raises a
:class:`MedperfError` with the log's tail when the task fails or times out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from medperf_lite.container_config import command_argv
from medperf_lite.errors import MedperfError

RUNNERS = ("local", "docker")


@dataclass
class TaskRun:
    container: dict
    task: str
    volumes: dict[str, Path]
    log: Path
    network: bool = False
    env: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None
    args: list[str] = field(default_factory=list)
    echo: bool = False

    @property
    def spec(self) -> dict:
        tasks = self.container["config"]["tasks"]
        if self.task not in tasks:
            raise MedperfError(f"container '{self.container['name']}' has no task '{self.task}'")
        return tasks[self.task]

    def argv(self) -> list[str]:
        return command_argv(self.spec["run_args"]["command"]) + self.args

    def mounts(self) -> list[tuple[Path, str, bool]]:
        """(host path, mount path, read-only) for every volume of the task, checked."""
        spec, result = self.spec, []
        self._write_parameters()
        for kind, read_only in (("input_volumes", True), ("output_volumes", False)):
            for name, volume in (spec.get(kind) or {}).items():
                host = self.volumes.get(name)
                if host is None:
                    raise MedperfError(f"task '{self.task}' needs its volume '{name}'")
                host = Path(host).resolve()
                if read_only and not host.exists():
                    raise MedperfError(f"input '{name}' of task '{self.task}' does not exist: {host}")
                if not read_only:
                    if volume["type"] == "directory":
                        host.mkdir(parents=True, exist_ok=True)
                    else:
                        host.parent.mkdir(parents=True, exist_ok=True)
                        host.touch()
                result.append((host, volume["mount_path"], read_only))
        return result

    def _write_parameters(self) -> None:
        """The parameters file volume, when the task has one, is written from the record."""
        inputs = self.spec.get("input_volumes") or {}
        if "parameters_file" in inputs and "parameters_file" not in self.volumes:
            path = self.log.parent / f"{self.log.stem}.parameters.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(self.container.get("parameters") or {}))
            self.volumes["parameters_file"] = path

    def failure(self, why: str) -> MedperfError:
        tail = log_tail(self.log)
        detail = f": {tail}" if tail else ""
        return MedperfError(f"task '{self.task}' of container '{self.container['name']}' {why}{detail} (log: {self.log})")


def log_tail(log: Path, lines: int = 1) -> str:
    try:
        text = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return " | ".join(text[-lines:])


class Runner(Protocol):
    name: str

    def run(self, task: TaskRun) -> None:
        """Runs the task to completion; raises MedperfError if it fails or times out."""


def choose(name: str | None = None) -> Runner:
    name = name or os.environ.get("MEDPERF_LITE_RUNNER") or "local"
    if name == "local":
        from medperf_lite.runners.local import LocalRunner

        return LocalRunner()
    if name == "docker":
        from medperf_lite.runners.docker import DockerRunner

        return DockerRunner()
    raise MedperfError(f"unknown runner '{name}'; choose one of: {', '.join(RUNNERS)}")
