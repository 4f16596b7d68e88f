"""medperf dataset submit / prepare / set_operational / associate / train."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import yaml

from medperf_lite import rules
from medperf_lite.commands import Session, certificate, confirm
from medperf_lite.commands.milestones import live_output
from medperf_lite.commands.nodes import (
    cert_folders,
    experiment_container,
    experiment_dir,
    fetch_kit,
    keep_or_clear,
    plan_file,
    read_text,
    run_role,
    run_step,
    show_plan,
)
from medperf_lite.errors import MedperfError


def data_hash(*folders: Path) -> str:
    """The raw data's identity: a hash of every file's relative path and content."""
    digest = hashlib.sha256()
    for root in dict.fromkeys(folders):
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            digest.update(b"\0")
    return digest.hexdigest()


def local_dir(session: Session, ds_id: int) -> Path:
    return session.home.user_dir(session.user, "datasets", str(ds_id))


def submit(session: Session, prep: int, data_path: Path, labels_path: Path, name: str, description: str,
           location: str, yes: bool) -> int:
    for what, path in (("data path", data_path), ("labels path", labels_path)):
        session.own_path(path)
        if not path.is_dir():
            raise MedperfError(f"{what} {path} is not a folder")
        if not any(p.is_file() for p in path.rglob("*")):
            raise MedperfError(f"{what} {path} holds no files")
    digest = data_hash(data_path.resolve(), labels_path.resolve())
    session.check(rules.submit_dataset, name, description, location, prep, digest)
    confirm(f"Register dataset '{name}' (hash {digest[:12]}) on the server?", yes)
    ds_id = session.run(rules.submit_dataset, name, description, location, prep, digest)
    paths = {"data_path": str(data_path.resolve()), "labels_path": str(labels_path.resolve())}
    (local_dir(session, ds_id) / "local.yaml").write_text(yaml.safe_dump(paths))
    return ds_id


def prepare(session: Session, ds_id: int) -> dict:
    """Runs prepare → sanity_check → statistics; records the outcome on the server."""
    dataset = session.run(rules.check_prepare, ds_id)
    local = local_dir(session, ds_id)
    if not (local / "local.yaml").exists():
        raise MedperfError(f"dataset {ds_id} was not registered from this machine (no local paths)")
    paths = yaml.safe_load((local / "local.yaml").read_text())
    container = rules.get(session.state(), "containers", dataset["prep"], "prep container")
    out = {"data_path": local / "data", "labels_path": local / "labels"}
    for stale in out.values():
        shutil.rmtree(stale, ignore_errors=True)
    steps = [
        ("prepare", {"data_path": Path(paths["data_path"]), "labels_path": Path(paths["labels_path"]),
                     "output_path": out["data_path"], "output_labels_path": out["labels_path"]}),
        ("sanity_check", dict(out)),
        ("statistics", {**out, "output_path": local / "statistics.yaml"}),
    ]
    for task, offered in steps:
        try:
            run_step(session, "dataset prepare", task, container, offered, local / "logs" / f"{task}.log")
        except MedperfError as e:
            session.run(rules.record_prepare, ds_id, False, e.message)
            raise
    statistics = yaml.safe_load((local / "statistics.yaml").read_text()) or {}
    session.run(rules.record_prepare, ds_id, True, None)
    return statistics


def set_operational(session: Session, ds_id: int, yes: bool) -> None:
    session.check(rules.set_operational, ds_id, {})
    stats_path = local_dir(session, ds_id) / "statistics.yaml"
    if not stats_path.exists():
        raise MedperfError(f"the statistics of dataset {ds_id} are missing; run 'medperf dataset prepare' again")
    statistics = yaml.safe_load(stats_path.read_text()) or {}
    print(yaml.safe_dump({"statistics": statistics}, sort_keys=False).rstrip())
    confirm(f"Mark dataset {ds_id} operational and upload these statistics?", yes)
    session.run(rules.set_operational, ds_id, statistics)


def associate(session: Session, ds_id: int, exp_id: int, yes: bool) -> str:
    session.check(rules.associate_dataset, ds_id, exp_id)
    exp = session.state()["experiments"][exp_id]
    confirm(f"Request participation of dataset {ds_id} in training experiment {exp_id} ('{exp['name']}')?", yes)
    return session.run(rules.associate_dataset, ds_id, exp_id)


def train(session: Session, ds_id: int, exp_id: int, yes: bool, overwrite: bool = False, verbose: bool = False,
          full_plan: bool = False) -> None:
    """Fetches this data owner's client kit and runs the FL container's train task on the
    prepared data; blocks until the federation shuts down."""
    session.run(rules.check_train, ds_id, exp_id)
    flower = session.home.flow == "flower"
    if not flower:
        session.check(rules.read_kit, exp_id, "client")  # before asking: a missing kit is told at once
    work = experiment_dir(session, exp_id, f"dataset{ds_id}")
    plan = plan_file(session, exp_id, work / "plan.yaml")
    text = read_text(plan, "plan")
    show_plan(text, plan, full_plan)
    confirm(f"Train on dataset {ds_id} with this plan?", yes)
    keep_or_clear([work / "output_logs"], overwrite, "dataset train")
    local = local_dir(session, ds_id)
    offered = {"data_path": local / "data", "labels_path": local / "labels", "plan_path": plan,
               "output_logs": work / "output_logs"}
    if flower:  # the data owner's signing key and certificate, and the CA's root
        offered.update(certificate.folders(session, session.user, "EC"))
    else:
        offered.update({"fl_workspace": fetch_kit(session, exp_id, "client", work / "fl_workspace"),
                        **cert_folders(work)})
    log = work / "logs" / "train.log"
    print(f"training node: starting for dataset {ds_id} in training experiment {exp_id}; its log: {log}", flush=True)
    run_role(session, exp_id, "dataset train", "train", experiment_container(session, exp_id, "fl"), offered, log,
             "training node", session.user, echo=verbose or live_output(session))
