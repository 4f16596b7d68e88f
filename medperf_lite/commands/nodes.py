"""Running the experiment's containers as MedPerf does: one contract step at a time, with
the mounts it offers, startup kits fetched from the server, outputs of earlier runs kept
unless the user asks to overwrite them."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import yaml

from medperf_lite import archives, rules
from medperf_lite.commands import Session
from medperf_lite.containers import contract
from medperf_lite.containers.runners import TaskRun, choose
from medperf_lite.errors import MedperfError
from medperf_lite.inputs import read_file
from medperf_lite.journal import RECORDER


def experiment_dir(session: Session, exp_id: int, *parts: str) -> Path:
    """This user's folder for a training experiment (their "machine")."""
    return session.home.user_dir(session.user, "training", f"exp{exp_id}", *parts)


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def cert_folders(work: Path) -> dict[str, Path]:
    """The node and CA certificate folders MedPerf offers: empty here, the certificates travel
    inside the startup kits."""
    return {"node_cert_folder": fresh(work / "node_cert"), "ca_cert_folder": fresh(work / "ca_cert")}


def experiment_container(session: Session, exp_id: int, which: str) -> dict:
    """The experiment's prep, fl or fl_admin container record."""
    state = session.state()
    exp = rules.get(state, "experiments", exp_id, "training experiment")
    if exp[which] is None:
        raise MedperfError(f"training experiment {exp_id} has no {which.replace('_', ' ')} container")
    return rules.get(state, "containers", exp[which], "container")


def run_step(session: Session, command: str, task: str, container: dict, offered: dict, log: Path,
             timeout: float | None = None, echo: bool = False, env: dict | None = None, watch=None) -> None:
    step = contract.step(command, task, session.home.flow)
    if container.get("additional"):  # MedPerf's extracted -a tarball, unpacked once per user and content
        folder = session.home.user_dir(session.user, "additional_files") / container["additional"][:16]
        if not folder.is_dir():
            archives.unpack(session.home.store.get_blob(container["additional"]), folder, "additional files")
        offered = {**offered, "additional_files": folder}
    runner = choose(session.settings)
    runner.run(TaskRun.of(step, container, offered, log, session.user, timeout, echo, env, watch))


def run_role(session: Session, exp_id: int, command: str, task: str, container: dict, offered: dict, log: Path,
             role: str, site: str | None, echo: bool) -> None:
    """A long-running role's task (the aggregator, a training node), watched (commands.watch);
    when it fails, its failure is recorded on the event, so every other role and the admin's
    status see why."""
    from medperf_lite.commands.milestones import Milestones
    from medperf_lite.commands.watch import RoleWatch

    event_id, _ = rules.require_open_event(session.state(), exp_id)
    with Milestones(session, exp_id, role) as milestones:
        watch = RoleWatch(session, exp_id, event_id, role, site, log, lambda line: milestones.say(line, line),
                          publisher=role == "aggregator")
        RECORDER.mark("role")  # past its prompt: the role runs (a learner's step is done when it does)
        try:
            run_step(session, command, task, container, offered, log, echo=echo, watch=watch)
        except MedperfError as e:
            if role != "aggregator" and session.home.flow == "flower" and watch.stopped_after_close:
                # MedPerf main's SuperNode runs until it is stopped: after a close, that is its end
                print(f"{role}: the event was closed; the training node was stopped after "
                      f"{session.settings.stop_grace:.0f} s, as MedPerf main's Flower node runs until it is", flush=True)
                return
            if e.failure is not None:
                e.failure.role, e.failure.site = role, site
                watch.record(e.failure)
            raise


def read_text(path: Path, what: str) -> str:
    """A file a container wrote, bounded and UTF-8, or a one-line error."""
    if not path.is_file():
        raise MedperfError(f"the container wrote no {what} ({path})")
    return read_file(path, f"the {what} at {path}")


def show_plan(text: str, path: Path, full: bool = False) -> None:
    """The plan before its [y/N]: a summary of a few lines (its job, rounds, minimum clients,
    hash, sections and where it is in full), so the question stays beside what it asks about;
    ``full`` (--show-plan) prints the whole plan first, as MedPerf does."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if full:
        print(text.rstrip())
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    print(f"The plan: {plan_summary(data)}; sha256 {digest}")
    if isinstance(data, dict):
        sections = [f"{key} ({', '.join(map(str, value))})" if key == "custom" and isinstance(value, dict) else str(key)
                    for key, value in data.items()]
        print(f"  sections: {', '.join(sections)[:400]}")
    print(f"  in full: {path}" + ("" if full else " (--show-plan prints it here)"))


def plan_summary(plan: object) -> str:
    """The plan's job, rounds and clients in a few words, wherever the framework keeps them."""
    plan = plan if isinstance(plan, dict) else {}
    rounds = find_int(plan, "num_rounds", "num-server-rounds")  # NVFlare's name, then Flower's
    clients = find_int(plan, "min_clients", "min-available-nodes")
    words = [f"job {plan['job_name']}" if plan.get("job_name") else None,
             f"{rounds} rounds" if rounds is not None else None, f"at least {clients} clients" if clients is not None else None]
    return ", ".join(w for w in words if w) or "no job, rounds or clients named"


def find_int(data, *keys: str):
    """The first integer value of the first of ``keys`` found anywhere in a config
    (num_rounds, min_clients), depth first."""
    for key in keys:
        found = _find_int(data, key)
        if found is not None:
            return found
    return None


def _find_int(data, key: str):
    if isinstance(data, dict):
        if isinstance(data.get(key), int) and not isinstance(data[key], bool):
            return data[key]
        data = list(data.values())
    if isinstance(data, list):
        for item in data:
            found = _find_int(item, key)
            if found is not None:
                return found
    return None


def plan_file(session: Session, exp_id: int, dest: Path) -> Path:
    """The experiment's stored plan, written where a task can mount it."""
    exp = rules.get(session.state(), "experiments", exp_id, "training experiment")
    if not exp.get("plan"):
        raise MedperfError(f"training experiment {exp_id} has no plan")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(session.home.store.get_blob(exp["plan"]["blob"]))
    return dest


def fetch_kit(session: Session, exp_id: int, role: str, dest: Path) -> Path:
    """This user's startup kit ('server' or 'client'), unpacked into a fresh fl_workspace."""
    kit = session.run(rules.read_kit, exp_id, role)
    return archives.unpack(session.home.store.get_blob(kit["blob"]), dest, "startup kit")


def keep_or_clear(outputs: list[Path], overwrite: bool, command: str) -> None:
    """MedPerf refuses to overwrite the outputs of an earlier run unless asked to."""
    used = [p for p in outputs if p.exists() and (any(p.iterdir()) if p.is_dir() else p.stat().st_size > 0)]
    if used and not overwrite:
        raise MedperfError(f"outputs of an earlier run exist ({used[0]}); run 'medperf {command}' with --overwrite")
    for path in used:
        if path.is_dir():
            fresh(path)
        else:
            path.unlink()
