"""The Docker runner: the task in the container's image through the docker SDK.

Same contract as the local runner: every volume at its mount path (inputs read-only), a
private /tmp, runs as the caller's uid:gid with every capability dropped, no-new-privileges,
a read-only root filesystem and a process limit; no network unless the task needs it, then
the user's site on the run's Docker network (medperf_lite.containers.sitenet: a holder container at the
site's address whose network every such task of the user joins), or without one the host's
(loopback only); the container is removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from medperf_lite import processes
from medperf_lite.containers.config import command_argv
from medperf_lite.containers.docker_build import engine as client
from medperf_lite.containers.images import docker_reference
from medperf_lite.containers.runners.task import TaskRun
from medperf_lite.containers.sitenet import SITE_LABEL
from medperf_lite.errors import MedperfError
from medperf_lite.settings import Settings, to_env

HOLDER_TRIES = 20  # looks at a site's holder (half a second apart while another task starts it)
PIDS_LIMIT = 4096  # processes and threads of one task (an NVFlare node with torch uses a few hundred)


def _confined(pids_limit: int) -> dict:
    """What every container of a run gets, whoever calls: the caller's uid:gid, no capabilities,
    no setuid gains, a read-only image and a process limit."""
    return {"user": f"{os.getuid()}:{os.getgid()}", "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"],
            "read_only": True, "pids_limit": pids_limit}


def _remove(container, attempts: int = 6) -> None:
    """Removes the container; a busy engine may refuse or time out, so try again for a while."""
    import docker.errors
    import requests

    for attempt in range(attempts):
        try:
            container.remove(force=True)
            return
        except docker.errors.NotFound:
            return
        except (docker.errors.APIError, requests.exceptions.RequestException):  # timeouts, "removal in progress"
            time.sleep(1 + attempt)


class DockerRunner:
    name = "docker"

    def __init__(self, config: Settings) -> None:
        self.config = config
        self.run_id = config.run_id  # the simulator's cleanup key, in every task's environment and labels
        self.engine = client()

    def run(self, task: TaskRun) -> None:
        import docker.errors
        import requests

        name = task.container["config"]["image"]
        image = docker_reference(name, self.config)
        try:
            self.engine.images.get(image)
        except docker.errors.ImageNotFound:
            folder = task.container.get("source") or "CONTAINER_FOLDER"
            raise MedperfError(f"image {name} is not in the Docker engine; run 'medperf-lite image build {folder} "
                               "--for docker'") from None
        run = to_env(run_id=self.run_id)
        environment = {**task.environment(), "HOME": "/tmp", "TMPDIR": "/tmp", **run}  # refusals before any folder
        # a list, not a dict keyed by host path: one folder may stand at two mount paths
        volumes = [f"{host}:{mount}:{'ro' if ro else 'rw'}" for host, mount, ro in task.mounts()]
        task.log.parent.mkdir(parents=True, exist_ok=True)
        tmpdir = Path(tempfile.mkdtemp(prefix=f"{task.log.stem}.tmp-", dir=task.log.parent))
        volumes.append(f"{tmpdir}:/tmp:rw")
        container = self.engine.containers.run(
            image, command_argv(task.spec["run_args"]["command"]), entrypoint=task.entrypoint() or None,
            detach=True, volumes=volumes, **self._network(task), environment=environment,
            labels={"medperf-lite": "1", "medperf-lite.run": self.run_id or ""},
            **_confined(PIDS_LIMIT),
        )
        def stop() -> None:  # on Ctrl-C: an engine that does not answer leaves it to _remove below
            with contextlib.suppress(docker.errors.DockerException, requests.exceptions.RequestException):
                container.stop(timeout=10)

        streamer = threading.Thread(target=self._stream, args=(container, task), daemon=True)
        streamer.start()
        try:
            with processes.on_interrupt(stop) as interrupted:
                code, reason = self._wait(container, task)
        finally:
            streamer.join(5)
            _remove(container)
            shutil.rmtree(tmpdir, ignore_errors=True)
            task.sanitize_outputs()
        if interrupted:
            raise MedperfError(f"task '{task.task}' was interrupted")
        if reason:
            raise task.stopped(reason)
        if code is None:
            raise task.failure(f"timed out after {task.timeout:.0f} s")
        if code != 0:
            raise task.failure(f"failed (exit {code})", code)

    def _network(self, task: TaskRun) -> dict:
        """No network; or, for a task with one, the user's site on the run's Docker network (its
        holder's network, see _site) when the simulator made one, else the host's (loopback only)."""
        chosen = self.config
        if not task.network:
            return {"network_mode": "none"}
        if not chosen.docker_network:
            return {"network_mode": "host"}
        return {"network_mode": f"container:{self._site(task, chosen.docker_network, chosen.site_address)}"}

    def _site(self, task: TaskRun, network: str, address: str) -> str:
        """The container that holds the user's site: its address on the run's network, for every
        task of that user with a network to join (a site is one machine: the aggregator and its
        owner's admin task share it, as they would share a host). Made at first use, kept until
        the run's network is removed (sitenet removes its holders)."""
        import docker.errors

        name = f"{network}-site-{address.replace('.', '-')}"
        for attempt in range(HOLDER_TRIES):
            try:
                holder = self.engine.containers.get(name)
                if holder.status == "running":
                    return holder.id
                if holder.status in ("created", "restarting") and attempt < HOLDER_TRIES // 2:
                    time.sleep(0.5)  # another task of the user's is starting it
                    continue
                _remove(holder)  # a stopped holder (or one that never started): its address is gone with it
            except docker.errors.NotFound:
                pass
            endpoint = self.engine.api.create_endpoint_config(ipv4_address=address)
            try:
                holder = self.engine.containers.run(
                    docker_reference(task.container["config"]["image"], self.config), ["infinity"], entrypoint=["sleep"],
                    name=name, detach=True, network=network, networking_config={network: endpoint},
                    labels={"medperf-lite": "1", SITE_LABEL: network, "medperf-lite.run": self.run_id or ""},
                    **_confined(8))
                return holder.id
            except docker.errors.APIError as e:
                if e.status_code != 409:  # 409: another task of the user's made it just now
                    raise MedperfError(f"task '{task.task}': its site {address} on {network} could not be "
                                       f"made: {e.explanation or e}") from None
        raise MedperfError(f"task '{task.task}': its site {address} on {network} could not be made")

    @staticmethod
    def _wait(container, task: TaskRun) -> tuple[int | None, str | None]:
        """(exit code, None); (None, None) on a timeout; (None, reason) when the watch stopped it."""
        import docker.errors
        import requests

        deadline = None if task.timeout is None else time.monotonic() + task.timeout
        every = processes.WATCH_EVERY if task.watch else 5
        while True:
            try:
                return container.wait(timeout=every)["StatusCode"], None
            except requests.exceptions.ReadTimeout:
                pass  # the wait's own timeout: still running
            except requests.exceptions.ConnectionError as e:
                if "timed out" not in str(e).lower():  # refused, reset: the engine is gone
                    raise MedperfError(f"task '{task.task}': the Docker engine stopped answering ({type(e).__name__}); "
                                       f"log: {task.log}") from None
            except docker.errors.NotFound:
                raise MedperfError(f"task '{task.task}': its container was removed from the Docker engine; "
                                   f"log: {task.log}") from None
            reason = task.watch() if task.watch else None
            if reason or (deadline is not None and time.monotonic() > deadline):
                with contextlib.suppress(docker.errors.DockerException, requests.exceptions.RequestException):
                    container.stop(timeout=10)
                return None, reason

    @staticmethod
    def _stream(container, task: TaskRun) -> None:
        with open(task.log, "ab") as log:
            for chunk in container.logs(stream=True, follow=True):
                log.write(chunk)
                log.flush()
                if task.echo:
                    os.write(1, chunk)
