"""medperf training submit / approve / set_plan / start_event / submit_job /
get_experiment_status / close_event."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import yaml

from medperf_lite import rules
from medperf_lite.commands import Session, confirm
from medperf_lite.commands.nodes import run_admin_task
from medperf_lite.container_config import fetch_text, load_yaml
from medperf_lite.errors import MedperfError
from medperf_lite.nvflare import kits, plan

ADMIN_TIMEOUT = float(os.environ.get("MEDPERF_LITE_ADMIN_TIMEOUT", "120"))
CLOSE_TIMEOUT = float(os.environ.get("MEDPERF_LITE_CLOSE_TIMEOUT", "300"))


def submit(session: Session, name: str, description: str, prep: int, fl: int, fl_admin: int | None) -> int:
    return session.run(rules.submit_experiment, name, description, prep, fl, fl_admin)


def set_plan(session: Session, exp_id: int, config_path: Path) -> dict:
    session.check(rules.set_plan, exp_id, {})
    summary = plan.summarize(config_path)
    summary["blob"] = session.home.store.put_blob(plan.archive(config_path))
    session.run(rules.set_plan, exp_id, summary)
    return summary


def read_participants(path: Path) -> dict[str, str]:
    text, _ = fetch_text(str(path))
    data = load_yaml(text, str(path))
    if not isinstance(data, dict) or not data:
        raise MedperfError(f"{path} must map participant labels to e-mails, e.g. 'col1: testdo@example.com'")
    return {str(label): str(email) for label, email in data.items()}


def start_event(session: Session, exp_id: int, name: str, participants_file: Path | None, yes: bool) -> dict:
    """Opens an event and provisions the NVFlare startup kits of its participants."""
    participants = read_participants(participants_file) if participants_file else None
    resolved = session.check(rules.event_participants, exp_id, participants)
    print(yaml.safe_dump({"participants": resolved}, sort_keys=False).rstrip())
    confirm(f"Start event '{name}' of training experiment {exp_id} with these participants?", yes)
    state = session.state()
    agg = state["aggregators"][rules.experiment_aggregator(state, exp_id)]
    description = kits.project(f"exp{exp_id}", agg["address"], agg["fl_port"], agg["admin_port"],
                               list(resolved), session.user)
    archives = kits.provision(description)
    roles = {agg["address"]: "server", session.user: "admin", **{label: label for label in resolved}}
    blobs = {roles[name]: {"blob": session.home.store.put_blob(data), "name": name}
             for name, data in archives.items()}
    event_id = session.run(rules.start_event, exp_id, name, resolved, blobs)
    return {"event": event_id, "participants": resolved}


def _experiment_dir(session: Session, exp_id: int, event_id: int) -> Path:
    return session.home.user_dir(session.user, "training", f"exp{exp_id}", f"event{event_id}")


def submit_job(session: Session, exp_id: int, runner: str | None = None) -> str:
    exp = session.run(rules.check_submit_job, exp_id)
    event_id, _ = rules.require_open_event(session.state(), exp_id)
    work = _experiment_dir(session, exp_id, event_id)
    job = plan.job_folder(session.home.store.get_blob(exp["plan"]["blob"]), work / "job")
    result = work / "submit.json"
    result.unlink(missing_ok=True)
    run_admin_task(session, exp_id, event_id, "submit_job", {"job": job, "result": result}, {}, runner,
                   ADMIN_TIMEOUT)
    job_id = _read_result(result)["job_id"]
    session.run(rules.submit_job, exp_id, job_id)
    return job_id


def _read_result(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        raise MedperfError(f"the admin container wrote no result to {path}") from None


def get_experiment_status(session: Session, exp_id: int, runner: str | None = None) -> dict:
    """The event's published progress plus a live check through the FLARE API; saved as status.yaml."""
    event_id, event = session.run(rules.check_event_owner, exp_id)
    work = _experiment_dir(session, exp_id, event_id)
    live_path = work / "live_status.json"
    live_path.unlink(missing_ok=True)
    try:
        run_admin_task(session, exp_id, event_id, "status", {"result": live_path},
                       {"MEDPERF_JOB_ID": event["job_id"] or ""}, runner, ADMIN_TIMEOUT)
        live = _read_result(live_path)
    except MedperfError as e:
        live = {"server_reachable": False, "error": e.message}
    progress = event["progress"] or {}
    labels = set(event["participants"])
    status = {
        "training_exp_id": exp_id,
        "event": event["name"],
        "server_reachable": live.get("server_reachable", False),
        "clients_connected": sorted(set(live.get("clients", [])) & labels),
        "clients_missing": sorted(labels - set(live.get("clients", []))),
        "job_id": event["job_id"],
        "job_state": live.get("job_status") or ("NOT SUBMITTED" if not event["job_id"] else "UNKNOWN"),
        "round": f"{progress.get('rounds_done', 0)} of {progress.get('num_rounds', '?')}",
        "last_metrics": progress.get("history", [{}])[-1].get("sites", {}) if progress.get("history") else {},
    }
    if "error" in live:
        status["error"] = live["error"]
    (session.home.user_dir(session.user, "training", f"exp{exp_id}") / "status.yaml").write_text(
        yaml.safe_dump(status, sort_keys=False))
    return status


def close_event(session: Session, exp_id: int, yes: bool, runner: str | None = None) -> dict:
    """Stops training, fetches the final global model, shuts the federation down, closes the event."""
    event_id, event = session.run(rules.check_event_owner, exp_id)
    confirm(f"Stop training and close event '{event['name']}' of training experiment {exp_id}?", yes)
    work = _experiment_dir(session, exp_id, event_id)
    result_dir = work / "result"
    shutil.rmtree(result_dir, ignore_errors=True)
    started = time.monotonic()
    report: dict = {"event": event["name"], "job_id": event["job_id"]}
    error = None
    try:
        run_admin_task(session, exp_id, event_id, "close", {"result": result_dir},
                       {"MEDPERF_JOB_ID": event["job_id"] or ""}, runner, CLOSE_TIMEOUT)
    except MedperfError as e:
        error = e.message
    try:  # what the admin task saved before any failure (result, model) is kept
        closing = _read_result(result_dir / "close.json")
    except MedperfError as e:
        closing, error = {}, error or e.message
    if error:
        closing["error"] = error
    report.update({k: v for k, v in closing.items() if k not in ("model", "progress")})
    progress = closing.get("progress") or session.state()["events"][event_id]["progress"] or {}
    report["num_rounds"] = progress.get("num_rounds")
    report["rounds_done"] = progress.get("rounds_done", 0)
    report["history"] = progress.get("history", [])
    report["complete"] = bool(report["num_rounds"]) and report["rounds_done"] == report["num_rounds"]
    if closing.get("model"):
        model = work / "global_model.pt"
        shutil.copy(result_dir / closing["model"], model)
        report["model_path"] = str(model)
    report["close_seconds"] = round(time.monotonic() - started, 1)
    session.run(rules.close_event, exp_id, report)
    (work / "report.yaml").write_text(yaml.safe_dump(report, sort_keys=False))
    return report
