"""medperf training submit / set_plan / start_event / submit_job / get_experiment_status /
close_event (cancel_event), as MedPerf runs them: the FL container's generate_plan makes
the plan and the startup kits, the admin container drives the federation."""

from __future__ import annotations

import re
import shutil
from pathlib import Path, PurePosixPath

import yaml

from medperf_lite import archives, rules
from medperf_lite.commands import Session, confirm, listing
from medperf_lite.commands.admin import run_admin_step
from medperf_lite.commands.nodes import (
    cert_folders,
    experiment_container,
    experiment_dir,
    find_int,
    fresh,
    plan_file,
    read_text,
    run_step,
    show_plan,
)
from medperf_lite.containers import contract
from medperf_lite.entities import event_progress, failure_texts, weight_files
from medperf_lite.errors import MedperfError
from medperf_lite.inputs import load_mapping, load_yaml, mapping, refuse_outside_links

PLAN_TIMEOUT = 300.0


def submit(session: Session, name: str, description: str, prep: int, fl: int, fl_admin: int | None,
           aggregator: int | None = None) -> int:
    return session.run(rules.submit_experiment, name, description, prep, fl, fl_admin, session.home.flow, aggregator)


def set_aggregator(session: Session, exp_id: int, agg_id: int, yes: bool) -> None:
    """MedPerf main's training set_aggregator."""
    session.check(rules.set_aggregator, exp_id, agg_id)
    state = session.state()
    confirm(f"You are about to set the aggregator {state['aggregators'][agg_id]['name']} for training experiment "
            f"{state['experiments'][exp_id]['name']}. Do you confirm?", yes)
    session.run(rules.set_aggregator, exp_id, agg_id)


TEMPLATE = re.compile(r"\{\w+\}")  # an NVFlare config placeholder such as "{num_rounds}"


LISTS = ("workflows", "components", "executors")  # what an FL server or client runs: lists of mappings


def check_plan_numbers(data, where: str = "") -> None:
    """Rounds and client counts anywhere in the plan are positive integers (or placeholders);
    workflows, components and executors are lists of mappings, and a plan's workflows are
    never empty (its aggregator would have nothing to run)."""
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{where}.{key}" if where else str(key)
            if key in LISTS and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)
                                     and (value or key != "workflows")):
                kind = "a non-empty list" if key == "workflows" else "a list"
                raise MedperfError(f"the plan's {name} must be {kind} of mappings, not {repr(value)[:100]}")
            if key in ("num_rounds", "min_clients", "num_clients"):
                ok = (isinstance(value, int) and not isinstance(value, bool) and value > 0) or \
                    (isinstance(value, str) and TEMPLATE.fullmatch(value))
                if not ok:
                    raise MedperfError(f"the plan's {name} must be a positive integer, not {repr(value)[:100]}")
            check_plan_numbers(value, name)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            check_plan_numbers(item, f"{where}[{i}]")


def _kit_file(kits: Path, name: object) -> bytes:
    """A kit generate_plan listed in its metadata: a file directly inside kits_path."""
    if not isinstance(name, str) or len(PurePosixPath(name).parts) != 1 or name in (".", ".."):
        raise MedperfError(f"the kits metadata names '{name}', which is not a file name in kits_path")
    path = kits / name
    if path.is_symlink() or not path.is_file():
        raise MedperfError(f"generate_plan listed the kit '{name}' but wrote no such file")
    return path.read_bytes()


def _generate_plan(session: Session, container: dict, offered: dict, work: Path) -> tuple[str, dict]:
    """The FL container's generate_plan on what set_plan offers; the plan's text and mapping, checked."""
    run_step(session, "training set_plan", "generate_plan", container, offered, work / "logs" / "generate_plan.log",
             timeout=PLAN_TIMEOUT)
    text = read_text(offered["plan_path"], "plan")
    plan = mapping(text, "plan.yaml", "plan")
    check_plan_numbers(plan)
    return text, plan


def _keep_plan(work: Path) -> None:
    """The stored plan's working folder becomes the experiment's plan/ (the last one set)."""
    shutil.rmtree(work.parent / "plan", ignore_errors=True)
    work.rename(work.parent / "plan")


def set_plan(session: Session, exp_id: int, config_path: Path, yes: bool, full_plan: bool = False) -> dict:
    """Runs generate_plan on the training config; shows the plan; stores it with the server's
    and clients' kits; unpacks the admin kit on this machine."""
    aggregator = session.check(rules.check_set_plan, exp_id)
    session.own_path(config_path)
    if session.home.flow == "flower":
        return _set_main_plan(session, exp_id, config_path, aggregator, yes, full_plan)
    if not config_path.is_dir():
        raise MedperfError(f"training config folder {config_path} does not exist")
    refuse_outside_links(config_path, "training config folder")  # its files go into every site's kit
    container = experiment_container(session, exp_id, "fl")
    work = fresh(experiment_dir(session, exp_id, "plan-pending"))
    aggregator_config = work / "aggregator_config.yaml"
    aggregator_config.write_text(yaml.safe_dump({"address": aggregator["address"],
                                                 "port": [aggregator["fl_port"], aggregator["admin_port"]]}))
    offered = {"training_config_path": config_path.resolve(), "aggregator_config_path": aggregator_config,
               "plan_path": work / "plan.yaml", "kits_path": work / "kits",
               "kits_metadata": work / "kits_meta" / "metadata.yaml"}
    text, plan = _generate_plan(session, container, offered, work)
    metadata = mapping(read_text(offered["kits_metadata"], "kits metadata"), "metadata.yaml", "kits metadata")
    clients = metadata.get("clients") or {}
    if not isinstance(clients, dict) or "server" not in metadata or "admin" not in metadata:
        raise MedperfError("the kits metadata must name 'admin', 'server' and 'clients' {e-mail: kit}")
    kits = {"server": _kit_file(work / "kits", metadata["server"]),
            "clients": {str(email): _kit_file(work / "kits", name) for email, name in clients.items()}}
    sites = {str(email): re.sub(r"\.(tar\.gz|tgz|zip|tar)$", "", Path(str(name)).name) for email, name in clients.items()}
    admin_kit = _kit_file(work / "kits", metadata["admin"])
    show_plan(text, work / "plan.yaml", full_plan)
    confirm(f"Set this plan for training experiment {exp_id}?", yes)
    store = session.home.store
    summary = {"blob": store.put_blob(text.encode()), "job_name": plan.get("job_name"),
               "num_rounds": find_int(plan.get("server_config"), "num_rounds"),
               "min_clients": find_int(plan.get("meta"), "min_clients") or 1}
    blobs = {"server": store.put_blob(kits["server"]),
             "clients": {email: store.put_blob(data) for email, data in kits["clients"].items()}, "sites": sites}
    archives.unpack(admin_kit, experiment_dir(session, exp_id, "admin_workspace"), "admin startup kit")
    session.run(rules.set_plan, exp_id, summary, blobs)
    _keep_plan(work)
    return {**summary, "clients": sorted(kits["clients"])}


def _set_main_plan(session: Session, exp_id: int, config_path: Path, aggregator: dict, yes: bool,
                   full_plan: bool = False) -> dict:
    """MedPerf main's set_plan: generate_plan on a training config file and the aggregator's
    config ({address, port, admin_port}); no kits."""
    if not config_path.is_file():
        raise MedperfError(f"training config file {config_path} does not exist (MedPerf main's -c is a YAML file)")
    container = experiment_container(session, exp_id, "fl")
    work = fresh(experiment_dir(session, exp_id, "plan-pending"))
    aggregator_config = work / "aggregator_config.yaml"
    aggregator_config.write_text(yaml.safe_dump({"address": aggregator["address"], "port": aggregator["fl_port"],
                                                 "admin_port": aggregator["admin_port"]}))
    offered = {"training_config_path": config_path.resolve(), "aggregator_config_path": aggregator_config,
               "plan_path": work / "plan.yaml"}
    text, plan = _generate_plan(session, container, offered, work)
    show_plan(text, work / "plan.yaml", full_plan)
    confirm(f"Set this plan for training experiment {exp_id}?", yes)
    config = plan.get("config") if isinstance(plan.get("config"), dict) else {}
    rounds = config.get("num-server-rounds")
    summary = {"blob": session.home.store.put_blob(text.encode()), "job_name": None,
               "num_rounds": rounds if isinstance(rounds, int) and not isinstance(rounds, bool) else None,
               "min_clients": 1}
    session.run(rules.set_plan, exp_id, summary)
    _keep_plan(work)
    return {**summary, "clients": []}


def read_participants(path: Path) -> dict[str, str]:
    data = load_mapping(str(path), "participants list")
    if not data or not all(isinstance(v, str | int) and isinstance(k, str | int) for k, v in data.items()):
        raise MedperfError(f"{path} must map participant labels to common names, "
                           "e.g. 'testdo@example.com: testdo@example.com'")
    return {str(label): str(name) for label, name in data.items()}


def start_event(session: Session, exp_id: int, name: str, participants_file: Path | None, yes: bool) -> dict:
    participants = read_participants(Path(session.own_path(participants_file))) if participants_file else None
    resolved = session.check(rules.event_participants, exp_id, participants)
    print(yaml.safe_dump({"participants (label: common name)": resolved}, sort_keys=False).rstrip())
    confirm(f"Start event '{name}' of training experiment {exp_id} with these participants?", yes)
    event_id = session.run(rules.start_event, exp_id, name, resolved)
    return {"event": event_id, "participants": resolved}


def submit_job(session: Session, exp_id: int) -> bool:
    """The admin container's start_federation; False when the container has no such task."""
    session.run(rules.check_submit_job, exp_id)
    event_id, _ = rules.require_open_event(session.state(), exp_id)
    work = experiment_dir(session, exp_id, f"event{event_id}")
    offered = {"plan_path": plan_file(session, exp_id, work / "plan.yaml")}
    ran = run_admin_step(session, exp_id, event_id, "training submit_job", "start_federation", offered,
                         work / "logs" / "start_federation.log", session.settings.admin_timeout)
    session.run(rules.submit_job, exp_id, "submitted" if ran else "skipped")
    return ran


def get_experiment_status(session: Session, exp_id: int) -> dict:
    """The admin container's get_experiment_status; the status file is kept on this machine.
    Without an open event, the last closed event's results and where its model is."""
    state = session.state()
    rules.owned_experiment(state, session.user, exp_id)
    if rules.open_event(state, exp_id) is None:
        closed = [eid for eid, e in sorted(state["events"].items()) if e["experiment"] == exp_id]
        if closed:
            return {"open_event": None, "last_event": listing.event_summary(state, closed[-1], True)}
    event_id, _ = session.run(rules.check_event_owner, exp_id)
    work = experiment_dir(session, exp_id, f"event{event_id}")
    status_file = work / "status.yaml"
    status_file.unlink(missing_ok=True)
    offered = {"output_status_file": status_file, "plan_path": plan_file(session, exp_id, work / "plan.yaml")}
    if session.home.flow != "flower":  # main's admin gets its certificates in run_admin_step
        offered.update({"temp_dir": fresh(work / "status_tmp"), **cert_folders(work)})
    failures = failure_texts(session.state()["events"][event_id])
    try:
        run_admin_step(session, exp_id, event_id, "training get_experiment_status", "get_experiment_status",
                       offered, work / "logs" / "get_experiment_status.log", session.settings.admin_timeout)
    except MedperfError as e:
        if failures:
            raise MedperfError(f"{e.message}. The event records {len(failures)} failure(s): "
                               + " | ".join(failures)) from None
        raise
    status = load_yaml(read_text(status_file, "status file"), str(status_file))
    status = readable_times(status if isinstance(status, dict) else {"status": status})
    state = session.state()
    counted = contract.typed_rounds(event_progress(state["events"][event_id]))
    total = counted["num_rounds"] or (state["experiments"][exp_id].get("plan") or {}).get("num_rounds")
    if total:  # the round progress the aggregator published, beside the container's own status
        status["rounds"] = f"{counted['rounds_done'] or 0} of {total} done"
    if failures:
        status["failures"] = failures
    return status


def readable_times(data):
    """A status's epoch times (``start_time: '1796142576.59'``) as UTC dates, everywhere in it."""
    if isinstance(data, dict):
        return {k: _when(v) if str(k).endswith("time") else readable_times(v) for k, v in data.items()}
    if isinstance(data, list):
        return [readable_times(v) for v in data]
    return data


def _when(value):
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return readable_times(value)
    if not 1e9 < seconds < 1e10:  # not an epoch time of this era: left as it is
        return value
    import datetime

    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def update_plan(session: Session, exp_id: int, field: str, value: str) -> None:
    """The admin container's update_plan on the running federation."""
    event_id, _ = session.run(rules.check_event_owner, exp_id)
    work = experiment_dir(session, exp_id, f"event{event_id}")
    offered = {"plan_path": plan_file(session, exp_id, work / "plan.yaml")}
    if session.home.flow != "flower":
        offered.update(cert_folders(work))
    run_admin_step(session, exp_id, event_id, "training update_plan", "update_plan", offered,
                   work / "logs" / "update_plan.log", session.settings.admin_timeout,
                   {"MEDPERF_UPDATE_FIELD_NAME": field, "MEDPERF_UPDATE_FIELD_VALUE": value})


def _given_report(session: Session, report_file: Path | None) -> dict | None:
    """REPORT (-r), read and checked; None without one."""
    return load_mapping(session.own_path(report_file), "report") if report_file is not None else None


def _report(session: Session, event_id: int, given: dict | None) -> dict:
    """The report to close an event with: the given one, or the latest one the aggregator
    published, with the failures the event recorded."""
    event = session.state()["events"][event_id]
    report = dict(given if given is not None else event["progress"] or {})
    texts = failure_texts(event)
    if texts:
        report["failures"] = texts
    return report


def close_event(session: Session, exp_id: int, yes: bool, report_file: Path | None = None) -> dict:
    """As MedPerf: stops the federation first (the admin container's stop_federation, final
    weights into the event's output_weights); when that fails, the command fails and the
    event stays open (a retry, or cancel_event, is still possible). Then closes the event with
    the report: REPORT, or the latest one the aggregator published."""
    event_id, event = session.run(rules.check_event_owner, exp_id)
    given = _given_report(session, report_file)  # a bad report is told before anything stops
    confirm(f"Stop training and close event '{event['name']}' of training experiment {exp_id}?", yes)
    work = experiment_dir(session, exp_id, f"event{event_id}")
    if session.home.flow == "flower":  # main runs no container: the report is the aggregator's
        return _close_main(session, exp_id, event_id, given, work)
    weights = fresh(work / "output_weights")
    try:
        run_admin_step(session, exp_id, event_id, "training close_event", "stop_federation",
                       {"output_weights": weights}, work / "logs" / "stop_federation.log", session.settings.close_timeout)
    except MedperfError as e:
        hint = "" if "cancel_event" in e.message else (f". Try again, or close it without stopping the federation: "
                                                       f"'medperf training cancel_event --training_exp_id {exp_id}'")
        raise MedperfError(f"stopping the federation failed, the event stays open: {e.message}{hint}") from None
    report = _report(session, event_id, given)
    report.update({"output_weights": str(weights), "weights": weight_files(weights)})
    session.run(rules.close_event, exp_id, report)
    (work / "report.yaml").write_text(yaml.safe_dump(report, sort_keys=False))
    return report


def _close_main(session: Session, exp_id: int, event_id: int, given: dict | None, work: Path) -> dict:
    """MedPerf main's close_event: the aggregator's report (what it published on the event,
    MedPerf's report<ts>/report.yaml); refused without one."""
    event = session.state()["events"][event_id]
    if given is None and not event.get("progress"):
        raise MedperfError(f"the aggregator of training experiment {exp_id} has written no report yet; close the "
                           "event when training is over, or cancel it with 'medperf training cancel_event "
                           f"--training_exp_id {exp_id} -r REPORT'")
    report = _report(session, event_id, given)
    session.run(rules.close_event, exp_id, report)
    work.mkdir(parents=True, exist_ok=True)
    (work / "report.yaml").write_text(yaml.safe_dump(report, sort_keys=False))
    return report


def cancel_event(session: Session, exp_id: int, yes: bool, report_file: Path | None = None) -> dict:
    """Closes the open event without running the admin container (MedPerf's cancel_event):
    its running roles are stopped at once (commands.watch)."""
    event_id, event = session.run(rules.check_event_owner, exp_id)
    if report_file is None and session.home.flow == "flower":
        raise MedperfError("MedPerf main's cancel_event needs the report to close the event with: "
                           "-r/--report-path FILE")
    report = _report(session, event_id, _given_report(session, report_file))
    confirm(f"Cancel event '{event['name']}' of training experiment {exp_id}?", yes)
    report["cancelled"] = True
    session.run(rules.cancel_event, exp_id, report)
    work = experiment_dir(session, exp_id, f"event{event_id}")
    work.mkdir(parents=True, exist_ok=True)
    (work / "report.yaml").write_text(yaml.safe_dump(report, sort_keys=False))
    return report

