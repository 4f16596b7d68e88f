"""Running the NVFlare containers from a startup kit: FL nodes and the admin's tasks."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from medperf_lite import net, rules
from medperf_lite.commands import Session
from medperf_lite.errors import MedperfError
from medperf_lite.nvflare import kits
from medperf_lite.runners import TaskRun, choose

PROGRESS_FILE = "medperf_progress.json"


def fetch_kit(session: Session, exp_id: int, event_id: int, role: str) -> Path:
    """Fetches this user's startup kit for ``role`` and unpacks it into their storage."""
    kit = session.run(rules.read_kit, event_id, role)
    archive = session.home.store.get_blob(kit["blob"])
    dest = session.home.user_dir(session.user, "training", f"exp{exp_id}", f"event{event_id}") / f"kit-{role}"
    return kits.unpack(archive, dest)


def fl_container(session: Session, exp_id: int, which: str) -> dict:
    state = session.state()
    exp = rules.get(state, "experiments", exp_id, "training experiment")
    if exp[which] is None:
        raise MedperfError(f"training experiment {exp_id} has no {which.replace('_', ' ')} container")
    return rules.get(state, "containers", exp[which], "container")


def run_node(session: Session, exp_id: int, event_id: int, role: str, task: str, volumes: dict, env: dict,
             runner: str | None, container: dict | None = None, publish: bool = False) -> Path:
    """Runs an FL node (aggregator or training node) in the foreground until it exits."""
    kit = fetch_kit(session, exp_id, event_id, role)
    container = container or fl_container(session, exp_id, "fl")
    engine = choose(runner)
    log = kit.parent / "logs" / f"{task}-{role}.log"
    stop = threading.Event()
    publisher = threading.Thread(target=_publish_progress, args=(session, exp_id, kit, stop), daemon=True)
    if publish:
        publisher.start()
    try:
        engine.run(TaskRun(container, task, {**volumes, "kit": kit}, log=log, network=True, env=env, echo=True))
    finally:
        stop.set()
        if publish:
            publisher.join(10)
    return kit


def _publish_progress(session: Session, exp_id: int, kit: Path, stop: threading.Event) -> None:
    """The aggregator role publishes the job's progress file to the open event as it changes."""
    last = None
    while True:
        finished = stop.wait(2.0)
        path = kit / PROGRESS_FILE
        try:
            progress = json.loads(path.read_text()) if path.exists() else None
        except (OSError, json.JSONDecodeError):
            progress = None  # being rewritten; next poll
        if progress is not None and progress != last:
            try:
                session.run(rules.publish_progress, exp_id, progress)
                last = progress
            except MedperfError:
                return  # the event was closed
        if finished:
            return


def run_admin_task(session: Session, exp_id: int, event_id: int, task: str, volumes: dict, env: dict,
                   runner: str | None, timeout: float) -> Path:
    """Runs one task of the admin container with the experiment owner's admin kit; fails at
    once, without waiting for a FLARE session, when the aggregator is not listening."""
    state = session.state()
    agg = state["aggregators"][state["events"][event_id]["aggregator"]]
    if not net.reachable(agg["address"], agg["admin_port"]):
        raise MedperfError(f"the aggregator at {agg['address']}:{agg['admin_port']} is not reachable")
    kit = fetch_kit(session, exp_id, event_id, "admin")
    container = fl_container(session, exp_id, "fl_admin")
    env = {"MEDPERF_ADMIN_USER": session.user, **env}
    log = kit.parent / "logs" / f"admin-{task}.log"
    choose(runner).run(TaskRun(container, task, {**volumes, "kit": kit}, log=log, network=True, env=env,
                               timeout=timeout))
    return kit
