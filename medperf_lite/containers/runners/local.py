"""The local runner: the task's command on the host inside a bubblewrap sandbox.

The sandbox's root is a fresh tmpfs, so that mount paths such as ``/mlcommons/volumes/data``
can be created without touching the host. Into it, read-only, go only what a task needs to
run: the system folders (``/usr``, ``/etc`` and their links) and this Python (its base
installation and the venv); never the rest of the host (``/root``, ``/home``, ``/run`` and its
sockets, the work folders, MEDPERF_LITE_HOME). The container's source stands where its
``local`` section says, every volume at its mount path (inputs read-only), a fresh folder at
``/tmp``: those are the only writable places. Tasks without the network in MedPerf's contract
get none (``--unshare-net``); the others share the caller's, which in a simulated run is the
user's site (a network namespace of its own, ``containers.sitenet``). The environment is
minimal: the config's ``run_args.environment``, MedPerf's variables, a PATH to this
interpreter, HOME=/tmp.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from medperf_lite import processes
from medperf_lite.containers import sandbox
from medperf_lite.containers.config import local_folder
from medperf_lite.containers.images import LocalImage, find_local
from medperf_lite.containers.runners.task import TaskRun
from medperf_lite.errors import MedperfError
from medperf_lite.settings import Settings, to_env


class LocalRunner:
    name = "local"

    def __init__(self, config: Settings) -> None:
        self.config = config
        self.run_id = config.run_id  # the simulator's cleanup key, in every task's environment
        sandbox.bwrap()  # refused at once, not at the first task

    def local_image(self, task: TaskRun) -> LocalImage | None:
        """The task's local image (``medperf-lite image build``); None for a config that maps
        its sources itself (a ``local`` section)."""
        config = task.container["config"]
        if config.get("local"):
            return None
        image = find_local(config["image"], self.config)
        if image is None:
            folder = task.container.get("source") or "CONTAINER_FOLDER"
            raise MedperfError(f"image {config['image']} is not built for the local runner; run "
                               f"'medperf-lite image build {folder}'")
        return image

    def command(self, task: TaskRun, tmpdir: Path, image: LocalImage | None = None) -> list[str]:
        argv = sandbox.base_command(tmpdir)
        if not task.network:
            argv.append("--unshare-net")
        for host, image_path in image.binds() if image else []:
            argv += ["--ro-bind", str(host), image_path]
        if image:
            venv = image.path / "venv"
            argv += ["--ro-bind", str(venv), str(venv)]
        source = task.container.get("source")
        for image_path, folder in (task.container["config"].get("local") or {}).items():
            if source is None:
                raise MedperfError(f"container '{task.container['name']}' has no local source; use --runner docker")
            host = local_folder(source, folder, task.container["name"])
            if not host.is_dir():
                raise MedperfError(f"the source folder {host} of container '{task.container['name']}' is missing")
            argv += ["--ro-bind", str(host), image_path]
        for host, mount, read_only in task.mounts():
            argv += ["--ro-bind" if read_only else "--bind", str(host), mount]
        workdir = (image.workdir if image else None) or "/tmp"
        entrypoint = image.entrypoint if image and not task.entrypoint() else []
        return argv + ["--chdir", workdir, "--", *entrypoint, *task.argv()]

    def run(self, task: TaskRun) -> None:
        tmpdir = task.log.parent / f"{task.log.stem}.tmp"
        tmpdir.mkdir(parents=True, exist_ok=True)
        image = self.local_image(task)
        python = image.python_bin if image else Path(sys.executable).parent
        env = {"LANG": "C.UTF-8", **(image.env if image else {}),
               **to_env(run_id=self.run_id), **task.environment(),
               "HOME": "/tmp", "TMPDIR": "/tmp", "PATH": f"{python}:/usr/local/bin:/usr/bin:/bin"}
        argv = sandbox.with_environment(self.command(task, tmpdir, image), env)  # the task's, only inside
        try:
            code, signals = processes.run(argv, log=task.log, env=sandbox.HOST_ENV, timeout=task.timeout, echo=task.echo,
                                          watch=task.watch)
        except processes.TimedOut:
            raise task.failure(f"timed out after {task.timeout:.0f} s") from None
        except processes.Stopped as stop:
            raise task.stopped(str(stop)) from None
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
            task.sanitize_outputs()
        if signals:
            raise MedperfError(f"task '{task.task}' was interrupted")
        if code != 0:
            raise task.failure(f"failed (exit {code})", code)
