"""ls and view for every entity: rows for tables, records for yaml/json."""

from __future__ import annotations

import json

import yaml

from medperf_lite import entities
from medperf_lite.commands import Session
from medperf_lite.entities import ENTITIES, event_progress, failure_texts
from medperf_lite.errors import MedperfError
from medperf_lite.rules import PRIVATE, State, email_of, get, may_see, user_id

FORMATS = ("table", "yaml", "json")

def event_summary(state: State, event_id: int, with_model: bool) -> dict:
    """An event in a few fields: its state, rounds (1..n), the global model's last known
    accuracy and, for the experiment's owner, where the final model is on their machine."""
    event = state["events"][event_id]
    progress = event_progress(event)
    accuracies = [h.get("global_val_acc") for h in progress.get("history") or [] if isinstance(h, dict)]
    known = [a for a in accuracies if isinstance(a, int | float)]
    summary = {"event": event_id, "name": event["name"], "status": event["status"]}
    if progress.get("num_rounds"):
        summary["rounds"] = f"{progress.get('rounds_done') or 0} of {progress['num_rounds']}"
    if known:
        summary["global_val_acc"] = round(known[-1], 4)
    report = event.get("report") or {}
    if with_model and report.get("output_weights"):
        summary["model"] = report["output_weights"]
        summary["model_files"] = entities.shown(report.get("weights", []))[:5]
    if report.get("error"):
        summary["error"] = report["error"]
    texts = failure_texts(event)
    if texts:
        summary["failures"] = texts
    return summary


def _public(state: State, table: str, entity_id: int, record: dict, viewer: int) -> dict:
    view = {"id": entity_id, **record}
    if table == "experiments":
        view["events"] = [event_summary(state, eid, record["owner"] == viewer)
                          for eid, e in sorted(state["events"].items()) if e["experiment"] == entity_id]
    if table in PRIVATE and not may_see(state, table, entity_id, viewer):
        for name in PRIVATE[table]:
            if name in view:
                view[name] = "(hidden)"
    if "owner" in view:
        view["owner"] = email_of(state, view["owner"])
    if table == "containers":
        view["image"] = record["config"].get("image")
    return view


def records(session: Session, entity: str, mine: bool) -> list[dict]:
    table, _, _ = ENTITIES[entity]
    state = session.state()
    me = user_id(state, session.user)
    return [_public(state, table, i, r, me) for i, r in sorted(state[table].items())
            if not mine or r.get("owner") == me]


def view(session: Session, entity: str, entity_id: int) -> dict:
    table, what, _ = ENTITIES[entity]
    state = session.state()
    return _public(state, table, entity_id, get(state, table, entity_id, what), user_id(state, session.user))


def association_records(session: Session) -> list[dict]:
    state = session.state()
    return [{"id": i, **a, "owner": email_of(state, a["owner"])}
            for i, a in sorted(state["associations"].items())]


def cell(view: dict, record: dict, column: str):
    """One column of MedPerf's `ls` table for an entity's record (``view``: what the viewer sees)."""
    if column == "UID":
        return view["id"]
    if column == "Owner":
        return record.get("owner")  # MedPerf prints the owner's numeric ID
    if column == "Registered":
        return True  # everything here is on the server
    if column == "Port":
        return [record["fl_port"], record["admin_port"]] if "fl_port" in record else record.get("port")
    if column == "Data Preparation Container UID":
        return record.get("prep")
    if column == "State":
        return record.get("state") or "OPERATION"
    if column == "Status":  # a dataset's preparation, as MedPerf's report lines; an event's state
        if "prepared" in record:
            return f"prepared: {record['prepared']}"
        return record.get("status")
    if column == "Job":
        return record.get("job_id")
    return view.get(column.lower().replace(" ", "_"))


def table(rows: list[list], headers: tuple[str, ...] | list[str]) -> str:
    """A table as MedPerf prints one (tabulate: numbers right-aligned, a dashed rule)."""
    from tabulate import tabulate

    return tabulate(rows, headers=list(headers))


def entity_table(session: Session, entity: str, mine: bool) -> str:
    table_name, _, columns = ENTITIES[entity]
    state = session.state()
    me = user_id(state, session.user)
    rows = []
    for i, record in sorted(state[table_name].items()):
        if not mine or record.get("owner") == me:
            view = _public(state, table_name, i, record, me)
            rows.append([cell(view, record, c) for c in columns])
    return table(rows, columns)


def render(rows: list[dict] | dict, fmt: str, columns: tuple[str, ...] = ()) -> str:
    if fmt == "yaml":
        return yaml.safe_dump(rows, sort_keys=False).rstrip()
    if fmt == "json":
        return json.dumps(rows, indent=2)
    if fmt != "table":
        raise MedperfError(f"unknown format '{fmt}'; choose one of: {', '.join(FORMATS)}")
    if isinstance(rows, dict):
        return "\n".join(f"{k}: {v}" for k, v in rows.items())
    return table([[r.get(c) for c in columns] for r in rows], columns)
