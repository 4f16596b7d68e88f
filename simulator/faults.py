"""Injected faults, for the fail-fast tests and ``bench/faults.py``: each one breaks a copy of
the tutorial's containers and training config (``tutorial init --containers``), or a running
process of the run, the way a container author's or a site's mistake would.

- ``train_error``: the job's training code raises a NameError at round 1 on every site
- ``job_killed``: the second site's NVFlare job process is SIGKILLed once training runs
- ``node_exits``: the FL container's ``train`` task exits at start (code 7)
- ``min_clients``: the job's controller waits for 3 sites; 2 join
- ``aggregator_killed``: the aggregator's NVFlare server process is SIGKILLed mid-round

``inject(name, dest)`` lays out the source folder; ``Killer`` does the runtime ones. Both
work on our containers and, for the process faults, on MedPerf's (the NVFlare processes are
found by their module names and the run's ID, the simulator's cleanup key).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import psutil
import yaml

from medperf_lite.world import FIXTURES

FAULTS = ("train_error", "job_killed", "node_exits", "min_clients", "aggregator_killed")
CONTAINERS = ("chestxray_prep", "nvflare_node", "nvflare_admin")
# which NVFlare process each runtime fault kills, by its module in the command line
TARGETS = {"job_killed": ("client.worker_process", "dataset2"), "aggregator_killed": ("server.server_train", None)}


def our_source(dest: Path) -> Path:
    """Our containers and training config, in MedPerf's layout (as ``--containers`` takes it)."""
    shutil.rmtree(dest, ignore_errors=True)
    for name in CONTAINERS:
        shutil.copytree(FIXTURES / "containers" / name, dest / "containers" / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(FIXTURES / "training_config", dest / "training_config", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if old not in text:
        raise ValueError(f"{path}: '{old}' not found")
    path.write_text(text.replace(old, new, 1))


def inject(fault: str, dest: Path, source: Path | None = None) -> Path:
    """A copy of ``source`` (our containers and config by default) with ``fault`` in it."""
    if fault not in FAULTS:
        raise ValueError(f"unknown fault '{fault}'; one of {', '.join(FAULTS)}")
    if source is None:
        root = our_source(dest)
    else:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", ".git*"))
        root = dest
    if fault == "train_error":
        for script in root.rglob("custom/train.py"):
            _edit(script, "    steps, total = 0, 0.0\n",
                  "    steps, total = 0, 0.0\n    x = x * weight_decay_factor  # noqa: F821 (the injected fault)\n")
    elif fault == "node_exits":
        for config in root.rglob("container_config.yaml"):
            data = yaml.safe_load(config.read_text())
            if "train" in (data.get("tasks") or {}):
                data["tasks"]["train"]["run_args"]["command"] = \
                    "python3 -c \"import sys; print('node: cannot open the dataset', file=sys.stderr); sys.exit(7)\""
                config.write_text(yaml.safe_dump(data, sort_keys=False))
    elif fault == "min_clients":
        for server in root.rglob("config/config_fed_server.json"):
            text = server.read_text()
            text = re.sub(r'"num_clients": \d+', '"num_clients": 3', text)
            text = re.sub(r'"min_clients": (\d+|"\{min_clients\}")', '"min_clients": 3', text)
            server.write_text(text)
    return root


class Killer(threading.Thread):
    """Kills the fault's NVFlare process of run ``run_id`` once ``ready()`` says so; records when."""

    def __init__(self, fault: str, run_id_of, ready, timeout: float = 600.0):
        super().__init__(daemon=True)
        self.module, self.where = TARGETS[fault]
        self.run_id_of, self.ready, self.timeout = run_id_of, ready, timeout
        self.killed_at: float | None = None
        self.stopped = threading.Event()

    def victim(self) -> psutil.Process | None:
        run_id = self.run_id_of()
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                line = " ".join(process.cmdline())
                if self.module in line and (self.where is None or self.where in line or self.where in process.cwd()) \
                        and process.environ().get("MEDPERF_LITE_RUN_ID") == run_id:
                    return process
        return None

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while not self.stopped.wait(0.2) and time.monotonic() < deadline:
            if not self.ready():
                continue
            victim = self.victim()
            if victim is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(victim.pid, signal.SIGKILL)
                self.killed_at = time.monotonic()
                return


def round_started(workdir: Path) -> bool:
    """Training runs: a site's log shows its first round (our job's training code prints it),
    or NVFlare's own task fetch (MedPerf's job)."""
    for log in (workdir / "logs").glob("role-col*.log"):
        with contextlib.suppress(OSError):
            text = log.read_text(errors="replace")
            if re.search(r"round 1/|Got task|got task assignment", text):
                return True
    return False


def progress(workdir: Path) -> dict:
    with contextlib.suppress(OSError, json.JSONDecodeError, KeyError):
        db = json.loads((workdir / "home" / "server" / "db.json").read_text())
        return (db.get("events", {}).get("1") or {}).get("progress") or {}
    return {}
