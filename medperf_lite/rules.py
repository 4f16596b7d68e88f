"""The workflow's rules, pure: given the server's state and an action by a user, the
action is allowed with its changes or refused with a reason. No I/O here: the store
applies the changes, the CLI and the simulator only call these functions.

State is ``{table: {id: record}}``; a change is ``(table, id, record)`` (a whole record,
new or replacing the old one). IDs are per table, starting at 1.

Each training experiment follows one of MedPerf's two flows (its record's ``flow``, the home's
at submission): ``nvflare`` (branch nvflare-integration: `aggregator associate`, a CA
associated per experiment, startup kits from set_plan, the experiment in OPERATION from its
first event) or ``flower`` (main: `training set_aggregator`, the global CA, certificates on
the server, no plan change during an event, unique event names).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from medperf_lite.errors import Forbidden, Refused
from medperf_lite.records import (
    CA,
    RECORDS,
    Aggregator,
    Association,
    Certificate,
    Container,
    Dataset,
    Event,
    Experiment,
    Kit,
    User,
)

State = dict[str, dict[int, dict]]
Change = tuple[str, int, dict]

TABLES = tuple(RECORDS)  # records.py: one definition of each table's rows
FLOWS = ("nvflare", "flower")
KEY_TYPES = ("RSA", "EC")
PENDING, APPROVED, REJECTED = "PENDING", "APPROVED", "REJECTED"
DEVELOPMENT, OPERATION = "DEVELOPMENT", "OPERATION"
OPEN, FINISHED, CANCELLED = "OPEN", "FINISHED", "CANCELLED"
MAX_FAILURES = 16  # failures an event records (the first ones: the cause comes first)
FAILURE_FIELDS = ("role", "site", "ended", "exit_code", "error", "where", "log", "text")
MAX_FAILURE_TEXT = 4000
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")  # what NVFlare accepts for an admin
MAX_NAME = 256
LABEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,255}")  # a site's name: folders and kits are named by it
AUTO_APPROVE_EXPERIMENTS = ("testmo@example.com",)
EXPERIMENT_APPROVERS = ("admin", "testadmin@example.com")


@dataclass
class Outcome:
    """What an allowed action does: the changes to store and a value for the caller."""

    changes: list[Change] = field(default_factory=list)
    value: Any = None


# ---------------------------------------------------------------- look-ups


def next_id(state: State, table: str, changes: list[Change] = ()) -> int:
    taken = set(state[table]) | {i for t, i, _ in changes if t == table}
    return max(taken, default=0) + 1


def user_id(state: State, email: str) -> int:
    for uid, user in state["users"].items():
        if user["email"] == email:
            return uid
    known = ", ".join(sorted(u["email"] for u in state["users"].values()))
    raise Refused(f"unknown user '{email}'; known users: {known}")


def email_of(state: State, uid: int) -> str:
    return state["users"][uid]["email"]


# the listing that shows a table's IDs, for a wrong ID's message (a user's own datasets: --mine)
LISTINGS = {"datasets": "medperf dataset ls --mine", "containers": "medperf container ls",
            "experiments": "medperf training ls", "aggregators": "medperf aggregator ls", "cas": "medperf ca ls",
            "events": "medperf event ls", "certificates": "medperf certificate check_client_certificate"}


def get(state: State, table: str, entity_id: int, what: str) -> dict:
    record = state[table].get(entity_id)
    if record is None:
        listing = f"; `{LISTINGS[table]}` lists the IDs" if table in LISTINGS else ""
        raise Refused(f"{what} {entity_id} does not exist{listing}")
    return record


def require_owner(state: State, email: str, record: dict, what: str, entity_id: int) -> int:
    uid = user_id(state, email)
    if record["owner"] != uid:
        raise Forbidden(f"only the owner of {what} {entity_id} ({email_of(state, record['owner'])}) may do this")
    return uid


def approved_experiment(state: State, exp_id: int) -> dict:
    exp = get(state, "experiments", exp_id, "training experiment")
    if exp["approval_status"] != APPROVED:
        raise Refused(f"training experiment {exp_id} is not approved ({exp['approval_status']})")
    return exp


def owned_experiment(state: State, email: str, exp_id: int) -> tuple[int, dict]:
    exp = get(state, "experiments", exp_id, "training experiment")
    uid = require_owner(state, email, exp, "training experiment", exp_id)
    return uid, approved_experiment(state, exp_id)


def open_event(state: State, exp_id: int) -> tuple[int, dict] | None:
    for eid, event in state["events"].items():
        if event["experiment"] == exp_id and event["status"] == OPEN:
            return eid, event
    return None


def require_open_event(state: State, exp_id: int) -> tuple[int, dict]:
    found = open_event(state, exp_id)
    if found is None:
        raise Refused(f"training experiment {exp_id} has no open event")
    return found


def require_no_open_event(state: State, exp_id: int) -> None:
    if open_event(state, exp_id) is not None:
        raise Refused(f"training experiment {exp_id} has an open event; close it first")


def associations(state: State, kind: str, exp_id: int, status: str | None = None) -> list:
    return [
        (aid, a)
        for aid, a in state["associations"].items()
        if a["kind"] == kind
        and a["experiment"] == exp_id
        and (status is None or a["status"] == status)
    ]


def find_association(state: State, kind: str, entity_id: int, exp_id: int):
    for aid, a in associations(state, kind, exp_id):
        if a["entity"] == entity_id:
            return aid, a
    return None


def experiment_aggregator(state: State, exp_id: int) -> int | None:
    exp = state["experiments"].get(exp_id) or {}
    if exp["flow"] == "flower":
        return exp.get("aggregator")
    approved = associations(state, "aggregator", exp_id, APPROVED)
    return max(a["entity"] for _, a in approved) if approved else None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network("127.0.0.0/8")
    except ValueError:
        return False


def require_loopback(host: str, what: str, sites: frozenset[str] = frozenset()) -> None:
    """Loopback, or one of ``sites``: the addresses medperf-lite made for a live run's sites."""
    if not is_loopback(host) and host not in sites:
        more = " or a site address of a run medperf-lite is playing" if sites else ""
        raise Refused(f"{what} '{host}' is not a loopback address{more}; medperf-lite runs on one host, use 127.0.0.1")


def require_flow(state: State, exp_id: int, flow: str, command: str) -> None:
    """A command of one flow on an experiment of the other is refused, naming the right one."""
    exp = get(state, "experiments", exp_id, "training experiment")
    if exp["flow"] != flow:
        other = {"flower": "MedPerf main's flow (Flower)", "nvflare": "MedPerf's NVFlare flow"}[exp["flow"]]
        raise Refused(f"training experiment {exp_id} follows {other}, where '{command}' does not exist")


def require_name(name: object, what: str) -> None:
    """Names are shown in tables and logs: printable text, 1 to MAX_NAME characters."""
    if not isinstance(name, str) or not name or len(name) > MAX_NAME or not name.isprintable():
        raise Refused(f"{what} needs a name of 1 to {MAX_NAME} printable characters")


def is_participant(event: dict, email: str) -> bool:
    """A user takes part in an event when the participants list names their e-mail, as a
    label or as a common name."""
    return email in event["participants"] or email in event["participants"].values()


# ---------------------------------------------------------------- visibility

PRIVATE = {  # per table: fields shown only to those who may see them (SPEC "Security and bounds")
    "datasets": ("statistics", "data_hash", "location"),
    "experiments": ("plan",),
}


def may_see(state: State, table: str, entity_id: int, viewer: int) -> bool:
    """Who sees a record's PRIVATE fields: its owner; for a dataset, the owner of an experiment
    it is associated with; for an experiment's plan, the participants of its events."""
    record = state[table][entity_id]
    if record.get("owner") == viewer:
        return True
    if table == "datasets":
        return any(a["kind"] == "dataset" and a["entity"] == entity_id
                   and state["experiments"][a["experiment"]]["owner"] == viewer
                   for a in state["associations"].values())
    email = email_of(state, viewer)
    return any(e["experiment"] == entity_id and is_participant(e, email) for e in state["events"].values())


# ---------------------------------------------------------------- users


def add_user(state: State, actor: str | None, email: str) -> Outcome:
    if not isinstance(email, str) or not EMAIL_RE.fullmatch(email):
        raise Refused(f"'{email}' is not an e-mail address")
    if any(u["email"] == email for u in state["users"].values()):
        raise Refused(f"user '{email}' already exists")
    uid = next_id(state, "users")
    return Outcome([("users", uid, User(email=email, is_admin=False))], uid)


def check_login(state: State, actor: str | None, email: str) -> Outcome:
    return Outcome(value=user_id(state, email))


# ---------------------------------------------------------------- containers


def submit_container(state: State, actor: str, name: str, config: dict, parameters: dict | None,
                     source: str | None = None, additional: str | None = None) -> Outcome:
    """``additional``: the blob of its additional files (MedPerf's -a tarball), or None."""
    uid = user_id(state, actor)
    require_name(name, "container")
    if any(c["name"] == name and c["owner"] == uid for c in state["containers"].values()):
        raise Refused(f"you already have a container named '{name}'")
    cid = next_id(state, "containers")
    record = Container(name=name, owner=uid, config=config, parameters=parameters, source=source, additional=additional)
    return Outcome([("containers", cid, record)], cid)


# ---------------------------------------------------------------- training experiments


def submit_experiment(state: State, actor: str, name: str, description: str, prep: int, fl: int,
                      fl_admin: int | None, flow: str = "nvflare", aggregator: int | None = None) -> Outcome:
    uid = user_id(state, actor)
    if flow not in FLOWS:
        raise Refused(f"unknown flow '{flow}'")
    for cid, what in ((prep, "prep container"), (fl, "FL container"), (fl_admin, "FL admin container")):
        if cid is not None:
            get(state, "containers", cid, what)
    if aggregator is not None:
        if flow != "flower":
            raise Refused("--aggregator is MedPerf main's; in the NVFlare flow run 'medperf aggregator associate'")
        get(state, "aggregators", aggregator, "aggregator")
    require_name(name, "training experiment")
    for exp in state["experiments"].values():
        if exp["owner"] == uid and exp["approval_status"] == PENDING:
            raise Refused("you already have a training experiment waiting for approval")
        if exp["name"] == name:
            raise Refused(f"a training experiment named '{name}' already exists")
    status = APPROVED if actor in AUTO_APPROVE_EXPERIMENTS else PENDING
    eid = next_id(state, "experiments")
    record = Experiment(name=name, description=description, owner=uid, prep=prep, fl=fl, fl_admin=fl_admin,
                        approval_status=status, state=DEVELOPMENT, plan=None, flow=flow)
    if flow == "flower":
        record["aggregator"] = aggregator
    return Outcome([("experiments", eid, record)], eid)


def decide_experiment(state: State, actor: str, exp_id: int, approve: bool) -> Outcome:
    exp = get(state, "experiments", exp_id, "training experiment")
    if actor not in EXPERIMENT_APPROVERS:
        raise Forbidden("only the server admin (testadmin@example.com) approves training experiments")
    if exp["approval_status"] != PENDING:
        raise Refused(f"training experiment {exp_id} is already {exp['approval_status']}")
    status = APPROVED if approve else REJECTED
    return Outcome([("experiments", exp_id, {**exp, "approval_status": status})], status)


def check_set_plan(state: State, actor: str, exp_id: int) -> Outcome:
    """What set_plan needs before the FL container runs: returns the experiment's aggregator."""
    _, exp = owned_experiment(state, actor, exp_id)
    require_no_open_event(state, exp_id)
    agg_id = experiment_aggregator(state, exp_id)
    if agg_id is None:
        raise Refused(f"training experiment {exp_id} has no aggregator; run 'medperf {_LINK[exp['flow']]}' first")
    return Outcome(value=state["aggregators"][agg_id])


_LINK = {"nvflare": "aggregator associate", "flower": "training set_aggregator"}


def set_aggregator(state: State, actor: str, exp_id: int, agg_id: int) -> Outcome:
    """MedPerf main's link of an experiment to its aggregator (the experiment's owner; not
    during an event); replaces an earlier one. (Main also freezes an experiment in OPERATION;
    no command here puts one of main's experiments there.)"""
    _, exp = owned_experiment(state, actor, exp_id)
    require_flow(state, exp_id, "flower", "training set_aggregator")
    get(state, "aggregators", agg_id, "aggregator")
    require_no_open_event(state, exp_id)
    return Outcome([("experiments", exp_id, {**exp, "aggregator": agg_id})], agg_id)


def set_plan(state: State, actor: str, exp_id: int, plan: dict, kits: dict | None = None) -> Outcome:
    """Stores the plan and the startup kits generate_plan made: ``kits`` is
    ``{"server": blob, "clients": {email: blob}, "sites": {email: site name}}`` (the site name:
    its kit's, as the FL framework knows the site); the admin's kit stays on the owner's machine."""
    check_set_plan(state, actor, exp_id)
    exp = state["experiments"][exp_id]
    changes: list[Change] = [("experiments", exp_id, {**exp, "plan": plan})]
    kits = kits or {}
    if exp["flow"] == "flower" and kits:
        raise Refused("MedPerf main's flow has no startup kits")
    entries = [("server", None, kits["server"])] if kits.get("server") else []
    entries += [("client", email, blob) for email, blob in sorted((kits.get("clients") or {}).items())]
    sites = kits.get("sites") or {}
    for role, email, blob in entries:
        kid = next_id(state, "kits", changes)
        site = sites.get(email) if email else None
        if site is not None:
            require_name(site, "site")
        changes.append(("kits", kid, Kit(experiment=exp_id, role=role, email=email, blob=blob, site=site)))
    return Outcome(changes, exp_id)


# ---------------------------------------------------------------- associations


def _new_association(state: State, kind: str, entity: int, exp_id: int, owner: int, status: str) -> Outcome:
    if find_association(state, kind, entity, exp_id) is not None:
        raise Refused(f"{kind} {entity} is already associated with training experiment {exp_id}")
    aid = next_id(state, "associations")
    record = Association(kind=kind, entity=entity, experiment=exp_id, owner=owner, status=status)
    return Outcome([("associations", aid, record)], status)


def associate_ca(state: State, actor: str, exp_id: int, ca_id: int) -> Outcome:
    uid, _ = owned_experiment(state, actor, exp_id)
    require_flow(state, exp_id, "nvflare", "ca associate")
    get(state, "cas", ca_id, "CA")
    require_no_open_event(state, exp_id)
    return _new_association(state, "ca", ca_id, exp_id, uid, APPROVED)


def submit_aggregator(state: State, actor: str, name: str, container: int, address: str,
                      ports: list[int], sites: frozenset[str] = frozenset()) -> Outcome:
    uid = user_id(state, actor)
    get(state, "containers", container, "aggregation container")
    require_loopback(address, "address", sites)
    if len(ports) != 2 or ports[0] == ports[1]:
        raise Refused("an aggregator needs two different ports: --port FL_PORT --port ADMIN_PORT")
    if any(not 1 <= p <= 65535 for p in ports):
        raise Refused("ports must be between 1 and 65535")
    require_name(name, "aggregator")
    for other_id, other in state["aggregators"].items():
        if other["address"] == address and {other["fl_port"], other["admin_port"]} & set(ports):
            raise Refused(f"aggregator {other_id} is already registered at {address} with port(s) "
                          f"{sorted({other['fl_port'], other['admin_port']} & set(ports))}")
    aid = next_id(state, "aggregators")
    record = Aggregator(name=name, owner=uid, container=container, address=address, fl_port=ports[0],
                        admin_port=ports[1])
    return Outcome([("aggregators", aid, record)], aid)


def associate_aggregator(state: State, actor: str, agg_id: int, exp_id: int) -> Outcome:
    agg = get(state, "aggregators", agg_id, "aggregator")
    exp = get(state, "experiments", exp_id, "training experiment")
    uid = user_id(state, actor)
    if uid not in (exp["owner"], agg["owner"]):
        raise Forbidden(f"only the owner of training experiment {exp_id} ({email_of(state, exp['owner'])}) or of "
                        f"aggregator {agg_id} ({email_of(state, agg['owner'])}) may associate them")
    approved_experiment(state, exp_id)
    require_flow(state, exp_id, "nvflare", "aggregator associate")
    require_no_open_event(state, exp_id)
    status = APPROVED if agg["owner"] == exp["owner"] else PENDING
    return _new_association(state, "aggregator", agg_id, exp_id, agg["owner"], status)


def submit_dataset(state: State, actor: str, name: str, description: str, location: str, prep: int,
                   data_hash: str) -> Outcome:
    uid = user_id(state, actor)
    get(state, "containers", prep, "prep container")
    require_name(name, "dataset")
    for did, ds in state["datasets"].items():
        if ds["data_hash"] == data_hash:
            raise Refused(f"this data is already registered as dataset {did}")
    did = next_id(state, "datasets")
    record = Dataset(name=name, description=description, location=location, owner=uid, prep=prep,
                     data_hash=data_hash, state=DEVELOPMENT, prepared=False, prepare_error=None, statistics=None)
    return Outcome([("datasets", did, record)], did)


def owned_dataset(state: State, actor: str, ds_id: int) -> tuple[int, dict]:
    ds = get(state, "datasets", ds_id, "dataset")
    return require_owner(state, actor, ds, "dataset", ds_id), ds


def check_prepare(state: State, actor: str, ds_id: int) -> Outcome:
    _, ds = owned_dataset(state, actor, ds_id)
    if ds["state"] == OPERATION:
        raise Refused(f"dataset {ds_id} is already operational")
    return Outcome(value=ds)


def record_prepare(state: State, actor: str, ds_id: int, ok: bool, error: str | None) -> Outcome:
    ds = check_prepare(state, actor, ds_id).value
    record = {**ds, "prepared": ok, "prepare_error": None if ok else (error or "preparation failed")}
    return Outcome([("datasets", ds_id, record)], ok)


def set_operational(state: State, actor: str, ds_id: int, statistics: dict) -> Outcome:
    _, ds = owned_dataset(state, actor, ds_id)
    if ds["state"] == OPERATION:
        raise Refused(f"dataset {ds_id} is already operational")
    if not ds["prepared"]:
        reason = f" (last attempt: {ds['prepare_error']})" if ds["prepare_error"] else ""
        raise Refused(f"dataset {ds_id} has not been prepared successfully{reason}; run 'medperf dataset prepare' first")
    record = {**ds, "state": OPERATION, "statistics": statistics}
    return Outcome([("datasets", ds_id, record)], OPERATION)


def associate_dataset(state: State, actor: str, ds_id: int, exp_id: int) -> Outcome:
    uid, ds = owned_dataset(state, actor, ds_id)
    exp = approved_experiment(state, exp_id)
    if ds["state"] != OPERATION:
        raise Refused(f"dataset {ds_id} is not operational; run 'medperf dataset set_operational' first")
    if ds["prep"] != exp["prep"]:
        raise Refused(f"dataset {ds_id} was prepared with container {ds['prep']}, "
                      f"training experiment {exp_id} expects container {exp['prep']}")
    event = open_event(state, exp_id)
    invited = event is not None and is_participant(event[1], actor)
    if exp["flow"] == "flower" and exp["owner"] == uid:  # main approves the experiment owner's own data
        invited = True
    return _new_association(state, "dataset", ds_id, exp_id, uid, APPROVED if invited else PENDING)


def decide_association(state: State, actor: str, kind: str, entity: int, exp_id: int,
                       approve: bool) -> Outcome:
    uid, _ = owned_experiment(state, actor, exp_id)
    found = find_association(state, kind, entity, exp_id)
    if found is None:
        raise Refused(f"{kind} {entity} has not asked to join training experiment {exp_id}")
    aid, assoc = found
    if assoc["owner"] == uid:
        raise Forbidden("nobody approves or rejects their own request")
    if assoc["status"] != PENDING:
        raise Refused(f"this association is already {assoc['status']}")
    require_no_open_event(state, exp_id)
    status = APPROVED if approve else REJECTED
    return Outcome([("associations", aid, {**assoc, "status": status})], status)


# ---------------------------------------------------------------- events


def event_participants(state: State, actor: str, exp_id: int,
                       participants: dict[str, str] | None) -> Outcome:
    """Checks everything start_event needs and resolves its participants, as MedPerf reads
    them: {participant label: common name (the data owner's e-mail)}; without a list, the
    owners of the approved dataset associations, labelled by their e-mail."""
    _, exp = owned_experiment(state, actor, exp_id)
    require_no_open_event(state, exp_id)
    if exp["plan"] is None:
        raise Refused(f"training experiment {exp_id} has no plan; run 'medperf training set_plan' first")
    flow = exp["flow"]
    if experiment_aggregator(state, exp_id) is None:
        raise Refused(f"training experiment {exp_id} has no aggregator; run 'medperf {_LINK[flow]}' first")
    if flow == "nvflare" and not associations(state, "ca", exp_id, APPROVED):
        raise Refused(f"training experiment {exp_id} has no CA; run 'medperf ca associate' first")
    if participants is None:
        participants = {}
        for _, a in sorted(associations(state, "dataset", exp_id, APPROVED)):
            email = email_of(state, state["datasets"][a["entity"]]["owner"])
            participants.setdefault(email, email)
    if not participants:
        raise Refused("an event needs at least one participant")
    for label, name in participants.items():
        for text in (label, name):
            if not isinstance(text, str) or not text or len(text) > 256 or not text.isprintable():
                raise Refused(f"participant {text!r}: labels and common names must be printable text (1-256 characters)")
        if not LABEL_RE.fullmatch(label) or ".." in label:
            raise Refused(f"participant label {label!r}: a label is a site's name (MedPerf's are e-mails): letters, "
                          "digits and . _ @ + -, starting with a letter or digit")
        user_id(state, name)
    if len(set(participants.values())) != len(participants):
        raise Refused("a participant appears twice in the participants list")
    min_clients = exp["plan"].get("min_clients", 1)
    if min_clients > len(participants):
        raise Refused(f"the plan needs at least {min_clients} clients, the event has {len(participants)} participants")
    return Outcome(value=dict(participants))


def start_event(state: State, actor: str, exp_id: int, name: str, participants: dict[str, str] | None) -> Outcome:
    """Opens an event for the participants {label: common name}."""
    resolved = event_participants(state, actor, exp_id, participants).value
    require_name(name, "event")
    exp = state["experiments"][exp_id]
    flower = exp["flow"] == "flower"
    if flower and any(e["name"] == name for e in state["events"].values()):
        raise Refused(f"an event named '{name}' already exists")
    agg_id = experiment_aggregator(state, exp_id)
    eid = next_id(state, "events")
    event = Event(name=name, experiment=exp_id, aggregator=agg_id, participants=resolved, status=OPEN, job_id=None,
                  progress=None, report=None, failures=[])
    changes: list[Change] = [("events", eid, event)]
    if not flower:  # the NVFlare branch's server puts the experiment in OPERATION with its first event
        changes.append(("experiments", exp_id, {**exp, "state": OPERATION}))
    invited = {user_id(state, email) for email in resolved.values()}
    for aid, assoc in associations(state, "dataset", exp_id, PENDING):
        if assoc["owner"] in invited:  # a participant's earlier request is approved by the invitation
            changes.append(("associations", aid, {**assoc, "status": APPROVED}))
    return Outcome(changes, eid)


def submit_job(state: State, actor: str, exp_id: int, job_id: str) -> Outcome:
    check_submit_job(state, actor, exp_id)
    eid, event = require_open_event(state, exp_id)
    return Outcome([("events", eid, {**event, "job_id": job_id})], eid)


def check_submit_job(state: State, actor: str, exp_id: int) -> Outcome:
    _, exp = owned_experiment(state, actor, exp_id)
    require_flow(state, exp_id, "nvflare", "training submit_job")
    _, event = require_open_event(state, exp_id)
    if event["job_id"] is not None:
        raise Refused(f"job {event['job_id']} was already submitted for this event")
    return Outcome(value=exp)


def check_event_owner(state: State, actor: str, exp_id: int) -> Outcome:
    owned_experiment(state, actor, exp_id)
    eid, event = require_open_event(state, exp_id)
    return Outcome(value=(eid, event))


def publish_progress(state: State, actor: str, exp_id: int, progress: dict) -> Outcome:
    eid, event = require_open_event(state, exp_id)
    agg = state["aggregators"][event["aggregator"]]
    if agg["owner"] != user_id(state, actor):
        raise Forbidden(f"only the aggregator's owner ({email_of(state, agg['owner'])}) publishes the federation's progress")
    return Outcome([("events", eid, {**event, "progress": progress})], eid)


def close_event(state: State, actor: str, exp_id: int, report: dict) -> Outcome:
    eid, event = check_event_owner(state, actor, exp_id).value
    return Outcome([("events", eid, {**event, "status": FINISHED, "report": report})], eid)


def cancel_event(state: State, actor: str, exp_id: int, report: dict) -> Outcome:
    """Closes the open event without stopping the federation (MedPerf's cancel_event)."""
    eid, event = check_event_owner(state, actor, exp_id).value
    return Outcome([("events", eid, {**event, "status": CANCELLED, "report": report})], eid)


def record_failure(state: State, actor: str, exp_id: int, failure: dict) -> Outcome:
    """A role of the open event (its aggregator's owner or a participant) records why it
    failed; the event keeps the first MAX_FAILURES, each field a bounded string."""
    eid, event = require_open_event(state, exp_id)
    agg_owner = state["aggregators"][event["aggregator"]]["owner"]
    if agg_owner != user_id(state, actor) and not is_participant(event, actor):
        raise Forbidden(f"only the aggregator's owner ({email_of(state, agg_owner)}) and the event's participants "
                        "record its failures")
    if not isinstance(failure, dict) or not set(failure) <= set(FAILURE_FIELDS):
        raise Refused(f"a failure has only the fields {', '.join(FAILURE_FIELDS)}")
    entry = {key: None if failure.get(key) is None else str(failure[key])[:MAX_FAILURE_TEXT] for key in FAILURE_FIELDS}
    entry["reported_by"] = actor
    if entry in event["failures"] or len(event["failures"]) >= MAX_FAILURES:
        return Outcome([], eid)
    return Outcome([("events", eid, {**event, "failures": [*event["failures"], entry]})], eid)


# ---------------------------------------------------------------- running nodes and kits


def check_train(state: State, actor: str, ds_id: int, exp_id: int) -> Outcome:
    """A data owner may start a training node: returns (event id, its client label)."""
    _, _ds = owned_dataset(state, actor, ds_id)
    found = find_association(state, "dataset", ds_id, exp_id)
    if found is None or found[1]["status"] != APPROVED:
        status = found[1]["status"] if found else "not requested"
        hint = "" if found else f"; run 'medperf dataset associate --data_uid {ds_id} --training_exp_uid {exp_id}' first"
        raise Refused(f"dataset {ds_id} is not approved for training experiment {exp_id} ({status}){hint}")
    eid, event = require_open_event(state, exp_id)
    if not is_participant(event, actor):
        raise Forbidden(f"{actor} is not a participant of the open event of training experiment {exp_id}")
    return Outcome(value=(eid, actor))


def check_aggregator_start(state: State, actor: str, exp_id: int) -> Outcome:
    get(state, "experiments", exp_id, "training experiment")
    eid, event = require_open_event(state, exp_id)
    agg = state["aggregators"][event["aggregator"]]
    if agg["owner"] != user_id(state, actor):
        raise Forbidden(f"only the owner of aggregator {event['aggregator']} ({email_of(state, agg['owner'])}) may start it")
    return Outcome(value=(eid, event["aggregator"]))


def read_kit(state: State, actor: str, exp_id: int, role: str) -> Outcome:
    """The startup kit of the open event's aggregator ('server', for its owner) or of the
    calling data owner ('client', keyed by e-mail): nobody reads another's kit."""
    uid = user_id(state, actor)
    require_flow(state, exp_id, "nvflare", "startup kits")
    _, event = require_open_event(state, exp_id)
    owner = state["aggregators"][event["aggregator"]]["owner"]
    if role == "server" and owner != uid:
        raise Forbidden(f"only the owner of aggregator {event['aggregator']} ({email_of(state, owner)}) may fetch its "
                        "startup kit")
    if role == "client" and not is_participant(event, actor):
        raise Forbidden(f"{actor} is not a participant of the open event of training experiment {exp_id}")
    email = actor if role == "client" else None
    found = [kid for kid, kit in state["kits"].items()
             if kit["experiment"] == exp_id and kit["role"] == role and kit["email"] == email]
    if not found:
        whose = f"for {actor} (the training config's mapping.yaml does not name you)" if email else "for the aggregator"
        raise Refused(f"training experiment {exp_id} has no startup kit {whose}; the admin runs 'medperf training set_plan'")
    return Outcome(value=state["kits"][max(found)])


# ---------------------------------------------------------------- MedPerf main: CAs and certificates


CA_CONFIG_KEYS = ("address", "port", "fingerprint", "client_provisioner", "server_provisioner")


def submit_ca(state: State, actor: str, name: str, config: dict, ca: int, client: int, server: int) -> Outcome:
    """A certificate authority: its config (MedPerf's ca_config.json, with its fingerprint) and
    the containers that trust it, issue client and issue server certificates."""
    uid = user_id(state, actor)
    require_name(name, "CA")
    if not isinstance(config, dict) or not isinstance(config.get("fingerprint"), str) or not config["fingerprint"]:
        raise Refused("a CA's config needs a 'fingerprint' (MedPerf's ca_config.json)")
    for cid, what in ((ca, "CA container"), (client, "client certificate container"),
                      (server, "server certificate container")):
        get(state, "containers", cid, what)
    if any(c["name"] == name for c in state["cas"].values()):
        raise Refused(f"a CA named '{name}' already exists")
    cid = next_id(state, "cas")
    record = CA(name=name, owner=uid, config=config, fingerprint=config["fingerprint"], ca_container=ca,
                client_container=client, server_container=server, address=config.get("address"),
                port=config.get("port"))
    return Outcome([("cas", cid, record)], cid)


def seed_ca(state: State, actor: str | None, name: str, config: dict, ca_config: dict) -> Outcome:
    """The server's CA 1 and its container 1 replaced by another CA (MedPerf's local server
    seeds its mock CA so): by the server itself, before any experiment or certificate."""
    if actor is not None:
        raise Refused("only the server seeds its CA")
    if state["experiments"] or state["certificates"]:
        raise Refused("this server already holds experiments or certificates of its CA; use a new home for another CA")
    if not isinstance(ca_config, dict) or not isinstance(ca_config.get("fingerprint"), str) or not ca_config["fingerprint"]:
        raise Refused("a CA's config needs a 'fingerprint' (MedPerf's ca_config.json)")
    if not isinstance(config, dict) or not isinstance(config.get("tasks"), dict):
        raise Refused("the CA's container config has no tasks")
    container = {**state["containers"][1], "name": name, "config": config}
    ca = {**state["cas"][1], "name": name, "config": ca_config, "fingerprint": ca_config["fingerprint"],
          "address": ca_config.get("address"), "port": ca_config.get("port")}
    return Outcome([("containers", 1, container), ("cas", 1, ca)], 1)


def trusted_ca(state: State, actor: str, ca_id: int, fingerprint: str) -> Outcome:
    """The CA a profile names, when its fingerprint is the one the profile expects (MedPerf
    checks it before every trust)."""
    user_id(state, actor)
    ca = get(state, "cas", ca_id, "CA")
    if ca.get("fingerprint") != fingerprint:
        raise Refused(f"CA {ca_id}'s fingerprint does not match your profile's certificate_authority_fingerprint; "
                      "it is not the CA you trust")
    return Outcome(value=ca)


def require_key_type(key_type: str) -> str:
    if key_type not in KEY_TYPES:
        raise Refused(f"key type '{key_type}' is not one of {', '.join(KEY_TYPES)}")
    return key_type


def user_certificate(state: State, actor: str, ca_id: int, key_type: str) -> Outcome:
    """The caller's valid certificate of a key type from a CA, or None."""
    uid = user_id(state, actor)
    require_key_type(key_type)
    found = [(cid, c) for cid, c in state["certificates"].items()
             if c["owner"] == uid and c["ca"] == ca_id and c["key_type"] == key_type and c["is_valid"]]
    return Outcome(value=found[-1] if found else None)


def submit_certificate(state: State, actor: str, ca_id: int, key_type: str, content: str, name: str) -> Outcome:
    """A user's certificate (base64 of its PEM; checked against the CA by the caller): one valid
    per user, CA and key type."""
    uid = user_id(state, actor)
    get(state, "cas", ca_id, "CA")
    if user_certificate(state, actor, ca_id, require_key_type(key_type)).value is not None:
        raise Refused(f"you already have a valid {key_type} certificate on the server; run "
                      f"'medperf certificate delete_client_certificate --key_type {key_type}' first")
    if not isinstance(content, str) or not content or len(content) > 64 * 1024:
        raise Refused("a certificate is its PEM in base64, at most 64 KiB")
    require_name(name, "certificate")
    cid = next_id(state, "certificates")
    record = Certificate(owner=uid, name=name, ca=ca_id, key_type=key_type, content=content, is_valid=True)
    return Outcome([("certificates", cid, record)], cid)


def invalidate_certificate(state: State, actor: str, ca_id: int, key_type: str) -> Outcome:
    """The caller's valid certificate of that key type becomes invalid (the only change MedPerf
    allows); None when there is none."""
    found = user_certificate(state, actor, ca_id, key_type).value
    if found is None:
        return Outcome(value=None)
    cid, cert = found
    return Outcome([("certificates", cid, {**cert, "is_valid": False})], cid)


def collaborators(state: State, actor: str, exp_id: int, ca_id: int) -> Outcome:
    """MedPerf main's cols.yaml for the open event, for its aggregator's owner: {label: {email,
    certificate}}, each participant's valid EC (signing) certificate."""
    require_flow(state, exp_id, "flower", "cols.yaml")
    check_aggregator_start(state, actor, exp_id)
    _, event = require_open_event(state, exp_id)
    result = {}
    for label, email in event["participants"].items():
        found = user_certificate(state, email, ca_id, "EC").value
        if found is None:
            raise Refused(f"No signing certificate found for participant {label} ({email}); they run "
                          "'medperf certificate get_client_certificate --key_type EC' and "
                          "'medperf certificate submit_client_certificate --key_type EC'")
        result[label] = {"email": email, "certificate": found[1]["content"]}
    return Outcome(value=result)
