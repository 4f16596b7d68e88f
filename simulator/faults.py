"""Injected faults, for the fail-fast tests and ``bench/faults.py``: each one breaks a copy of
the tutorial's containers and training config (``tutorial init --containers``), or a running
process of the run, the way a container author's or a site's mistake would.

- ``train_error``: the job's training code raises a NameError at round 1 on every site
- ``job_killed``: the second site's NVFlare job process is SIGKILLed once training runs
- ``node_exits``: the FL container's ``train`` task exits at start (code 7)
- ``min_clients``: the job's controller waits for 3 sites; 2 join
- ``aggregator_killed``: the aggregator's NVFlare server process is SIGKILLed mid-round

``inject(name, dest)`` lays out the source folder, ``kill`` does the runtime ones, ``play`` times them. Both
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

from medperf_lite.commands import tutorial
from medperf_lite.files import FIXTURES
from medperf_lite.settings import VARIABLES

FAULTS = ("train_error", "job_killed", "node_exits", "min_clients", "aggregator_killed")
# which NVFlare process each runtime fault kills: its module in the command line, whose (the task's label)
TARGETS = {"job_killed": ("client.worker_process", "testdo2@example.com"), "aggregator_killed": ("server.server_train", None)}


def our_source(dest: Path) -> Path:
    """Our containers and training config, in MedPerf's layout (as ``--containers`` takes it)."""
    shutil.rmtree(dest, ignore_errors=True)
    for name in tutorial.CONTAINERS.values():
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
    if fault == "train_error":  # our job's training code, or the learner of MedPerf's node container
        edits = [(script, "    steps, total = 0, 0.0\n", "    x = x * weight_decay_factor  # noqa: F821 (the injected fault)\n")
                 for script in root.rglob("custom/train.py")]
        edits += [(script, "            avg_loss = 0.0\n", "            avg_loss *= weight_decay_factor  # noqa: F821\n")
                  for script in root.rglob("scripts/learners.py")]
        if not edits:
            raise ValueError(f"no training code to break under {root}")
        for script, after, line in edits:
            _edit(script, after, after + line)
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


def kill(fault: str, run_id: str) -> bool:
    """SIGKILLs the fault's NVFlare process of run ``run_id``; False when none runs yet."""
    module, where = TARGETS[fault]
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            env = process.environ()
            if module in " ".join(process.cmdline()) and env.get(VARIABLES["run_id"]) == run_id \
                    and where in (None, env.get("MEDPERF_PARTICIPANT_LABEL")):
                os.kill(process.pid, signal.SIGKILL)
                return True
    return False


class FaultClock(threading.Thread):
    """Notes when the fault happened: ``happened()`` (which may cause it) turns true."""

    def __init__(self, happened, timeout: float = 900.0):
        super().__init__(daemon=True)
        self.happened, self.timeout = happened, timeout
        self.at: float | None = None
        self.stopped = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while not self.stopped.wait(0.2) and time.monotonic() < deadline:
            if self.happened():
                self.at = time.monotonic()
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


# when each fault happens, read from the run's logs (the runtime faults are timed by their kill)
MARKERS = {"train_error": r"NameError: name 'weight_decay_factor'", "node_exits": r"cannot open the dataset",
           "min_clients": r"[Jj]ob (submitted|[\w-]+ submitted)"}


def _marker_seen(workdir: Path, pattern: str) -> bool:
    for log in [*(workdir / "logs").glob("*.log"), *(workdir / "home" / "users").glob("*/training/*/*/logs/*.log")]:
        with contextlib.suppress(OSError):
            if re.search(pattern, log.read_text(errors="replace")):
                return True
    return False


def play(fault: str, workdir: Path, runner: str = "local", source: Path | None = None,
         scenario_name: str = "tutorial", echo: bool = False) -> dict:
    """Plays the scenario with ``fault`` in it; returns its report with ``fault``: the fault's
    name, ``to_failure``: seconds from the fault to the end of the failed step (None when it
    did not fail or the fault was not seen) and ``failed``: that step."""
    from medperf_lite.simulator import engine, scenario

    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    root = inject(fault, workdir / "source", source)
    run = engine.Run(scenario.load(scenario_name), runner, workdir, echo, overrides=engine.Overrides(source=root))
    if fault in TARGETS:
        watcher = FaultClock(lambda: round_started(workdir) and kill(fault, run.run_id))
    else:
        watcher = FaultClock(lambda: _marker_seen(workdir, MARKERS[fault]))
    watcher.start()
    try:
        run.execute()
    finally:
        watcher.stopped.set()
    data = run.report()
    failed = next((s for s in data["steps"] if not s["ok"]), None)
    to_failure = None
    if failed and watcher.at is not None:
        to_failure = round(run.started + failed["started"] + failed["seconds"] - watcher.at, 1)
    return {**data, "fault": fault, "to_failure": to_failure, "failed": failed}
