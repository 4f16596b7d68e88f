"""Container runners: one interface, two implementations with the same contract.

A :class:`TaskRun` names a container record, one of its tasks, and the mounts MedPerf
offers for it by volume name (:mod:`medperf_lite.containers.contract`). The runner mounts those the
task declares, each at its ``mount_path`` (inputs read-only), gives the task a fresh
``/tmp``, runs its command with the config's environment plus MedPerf's, writes its output
to ``log`` and raises a :class:`MedperfError` with the log's tail when the task fails.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from medperf_lite import diagnosis
from medperf_lite.containers import contract
from medperf_lite.containers.config import command_argv
from medperf_lite.errors import MedperfError
from medperf_lite.settings import RUNNERS  # noqa: F401 (one list of runner names)


@dataclass
class TaskRun:
    container: dict
    task: str
    volumes: dict[str, Path]  # offered mounts, by MedPerf's volume names
    log: Path
    network: bool = False
    env: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None
    echo: bool = False
    command: str = ""  # the medperf command that runs the task, for messages
    watch: Callable[[], str | None] | None = None  # asked every half second: a reason to stop the task

    @classmethod
    def of(cls, step: contract.Step, container: dict, offered: dict[str, Path], log: Path, user: str,
           timeout: float | None = None, echo: bool = False, extra_env: dict | None = None,
           watch: Callable[[], str | None] | None = None) -> TaskRun:
        """The task of a contract step, with exactly the mounts and environment MedPerf gives it."""
        if set(offered) - set(contract.ALWAYS_OFFERED) != set(step.offered):  # the contract is the one list
            raise ValueError(f"{step.command}: offers {sorted(offered)}, the contract says {sorted(step.offered)}")
        if set(extra_env or {}) != set(step.given):
            raise ValueError(f"{step.command}: gives {sorted(extra_env or {})}, the contract says {sorted(step.given)}")
        env = {**(extra_env or {}), **{name: user for name in step.env}}
        return cls(container, step.task, dict(offered), log, step.network, env, timeout, echo, step.command, watch)

    @property
    def spec(self) -> dict:
        tasks = self.container["config"]["tasks"]
        if self.task not in tasks:
            import difflib

            tasks = list(self.container["config"]["tasks"])
            near = difflib.get_close_matches(self.task, tasks, n=1, cutoff=0.7)
            raise MedperfError(f"container '{self.container['name']}' has no task '{self.task}' (its tasks: "
                               f"{', '.join(tasks)}{f'; a typo of {near[0]!r}?' if near else ''})")
        return tasks[self.task]

    def entrypoint(self) -> list[str]:
        entry = self.spec["run_args"].get("entrypoint")
        return command_argv(entry) if entry else []

    def argv(self) -> list[str]:
        return self.entrypoint() + command_argv(self.spec["run_args"]["command"])

    def environment(self) -> dict[str, str]:
        """The config's ``run_args.environment`` with MedPerf's variables over it; a loader variable
        (LD_*, PYTHONPATH...) is refused, also in a config stored before that rule."""
        own = self.spec["run_args"].get("environment") or {}
        for name, value in own.items():
            why = contract.loader_refusal(name, value)
            if why:
                raise MedperfError(f"task '{self.task}' of container '{self.container['name']}': {why}")
        return {**{str(k): str(v) for k, v in own.items()}, **self.env}

    def mounts(self) -> list[tuple[Path, str, bool]]:
        """(host path, mount path, read-only) for every volume the task declares, checked."""
        spec, result = self.spec, []
        for kind, read_only in (("input_volumes", True), ("output_volumes", False)):
            for name, volume in (spec.get(kind) or {}).items():
                if not read_only and name in contract.INPUTS.get(self.task, ()):
                    raise MedperfError(f"task '{self.task}' of container '{self.container['name']}' declares "
                                       f"'{name}' as an output; MedPerf offers it as an input, always read-only")
                host = self._offered(name)
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

    def _offered(self, name: str) -> Path:
        if name in self.volumes:
            return Path(self.volumes[name]).resolve()
        if name == "parameters_file":
            path = self.log.parent / f"{self.log.stem}.parameters.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(self.container.get("parameters") or {}))
            return path.resolve()
        if name == "additional_files":
            path = self.log.parent / f"{self.log.stem}.additional_files"
            path.mkdir(parents=True, exist_ok=True)
            return path.resolve()
        offered = ", ".join(sorted({*self.volumes, *contract.ALWAYS_OFFERED}))
        by = f"'medperf {self.command}'" if self.command else "this command"
        raise MedperfError(f"task '{self.task}' of container '{self.container['name']}' declares volume '{name}', "
                           f"which {by} does not offer (offered: {offered})")

    def sanitize_outputs(self) -> None:
        """What a task leaves in its output volumes loses setuid/setgid bits, and device files,
        fifos, sockets and links that leave the volume are removed: a hostile container must
        not plant a privilege or a trap for whoever reads its outputs later."""
        for name, volume in (self.spec.get("output_volumes") or {}).items():
            if name in self.volumes:
                root = Path(self.volumes[name]).resolve()
                sanitize(root, root if volume["type"] == "directory" else root.parent)

    def failure(self, why: str, exit_code: int | None = None) -> MedperfError:
        """The task's failure: its first error (a traceback's exception and the author's frame)
        or its log's last line, and the log's path; the error carries it as a Failure too."""
        text = diagnosis.read_log(self.log)
        found = diagnosis.first_traceback(text) or diagnosis.last_line(text)
        detail = str(found) if found else ""
        error = MedperfError(f"task '{self.task}' of container '{self.container['name']}' {why}"
                             f"{': ' + detail if detail else ''} (log: {self.log})")
        ended = f"its container's task '{self.task}' " + ("exited" if exit_code is not None else why)
        error.failure = diagnosis.Failure.of(self.command or self.task, ended, self.log, exit_code,
                                             found=found)
        return error

    def stopped(self, reason: str) -> MedperfError:
        error = MedperfError(f"task '{self.task}' of container '{self.container['name']}' was stopped: {reason} "
                             f"(log: {self.log})")
        error.failure = diagnosis.Failure(self.command or self.task, None, f"stopped: {reason}", None, None, None,
                                          str(self.log))
        return error


def sanitize(path: Path, boundary: Path) -> None:
    try:
        info = path.lstat()
    except OSError:
        return
    if stat.S_ISLNK(info.st_mode):
        target = (path.parent / os.readlink(path)).resolve()
        if not target.is_relative_to(boundary):
            path.unlink()
    elif stat.S_ISDIR(info.st_mode):
        if info.st_mode & (stat.S_ISUID | stat.S_ISGID):
            path.chmod(stat.S_IMODE(info.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))
        for child in path.iterdir():
            sanitize(child, boundary)
    elif stat.S_ISREG(info.st_mode):
        if info.st_mode & (stat.S_ISUID | stat.S_ISGID):
            path.chmod(stat.S_IMODE(info.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))
    else:  # a device, fifo or socket: never a task's output
        path.unlink()


def log_tail(log: Path, lines: int = 1) -> str:
    try:
        text = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def has_task(container: dict, task: str) -> bool:
    return task in (container["config"].get("tasks") or {})


class Runner(Protocol):
    name: str

    def run(self, task: TaskRun) -> None:
        """Runs the task to completion; raises MedperfError if it fails or times out."""
