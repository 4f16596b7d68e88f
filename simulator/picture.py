"""The federation as a picture, for the live page: the MedPerf server, the experiment's admin,
the aggregator and every site, each with its user's e-mail, its site name, its state (not
started, waiting, training, done, failed) and its latest milestone; and the links that the step
in progress uses (``submit_job``: admin → aggregator → sites; a round: sites ↔ aggregator).

Read from the server's records (the experiment, its aggregator, the event's participants, its
progress and failures) and the roles' milestone lines: nothing of an FL framework. It works for
any number of sites and shows a failed one in red with its diagnosis.
"""

from __future__ import annotations

import re

from medperf_lite import rules
from medperf_lite.containers import contract

MILESTONE = re.compile(r"^(aggregator|training node)( \([^)]*\))?: (.+)$")
NOT_STARTED, WAITING, TRAINING, DONE, FAILED = "not started", "waiting", "training", "done", "failed"


def latest_milestone(lines: list[str]) -> str | None:
    """The last milestone line of a role's log (``aggregator: round 2 of 3 done``)."""
    for line in reversed(lines):
        found = MILESTONE.match(line.strip())
        if found:
            return found.group(3)[:120]
    return None


def _latest(state: dict, table: str) -> tuple[int, dict] | tuple[None, None]:
    records = state.get(table) or {}
    if not records:
        return None, None
    key = max(records)
    return key, records[key]


def _failure_of(event: dict | None, *names: str | None) -> str | None:
    for failure in (event or {}).get("failures") or []:
        if failure.get("site") in names or (failure.get("role") in names and failure.get("role")):
            return str(failure.get("text") or failure.get("error") or "failed")[:300]
    return None


def federation(state: dict, roles: list[dict], step: dict | None = None) -> dict:
    """Nodes and links of the latest training experiment. ``roles``: the running commands as
    the page lists them, each with ``user`` and ``log`` (its tail); ``step``: the step in
    progress, with its ``command`` (``training submit_job``) when it runs one."""
    exp_id, exp = _latest(state, "experiments")
    if exp is None:
        return {"nodes": [{"id": "server", "kind": "server", "label": "MedPerf server", "email": "",
                           "site": "", "state": "", "milestone": "no training experiment yet"}], "links": []}
    events = [(eid, e) for eid, e in sorted((state.get("events") or {}).items()) if e.get("experiment") == exp_id]
    event = events[-1][1] if events else None
    progress = (event or {}).get("report") or (event or {}).get("progress") or {}
    users = {uid: u.get("email") for uid, u in (state.get("users") or {}).items()}
    owner = users.get(exp.get("owner"), "")
    agg_id = rules.experiment_aggregator(state, exp_id)
    aggregator = (state.get("aggregators") or {}).get(agg_id) if agg_id else None
    if event is not None:
        participants = dict(event.get("participants") or {})
    else:
        participants = {}
        for _, assoc in sorted(rules.associations(state, "dataset", exp_id)):
            email = users.get(state["datasets"][assoc["entity"]]["owner"], "")
            participants.setdefault(email, email)
    def milestone_of(command: str, email: str | None = None) -> str | None:
        """The latest milestone of the role running ``command`` (as ``email``)."""
        for role in roles:
            ours = role.get("command") == command or (command == "dataset train" and role.get("command") is None)
            if ours and (email is None or role.get("user") == email):  # a script (collab_shortcut.sh) runs a node too
                said = role.get("milestone") or latest_milestone(role.get("log") or [])
                if said:
                    return said
        return None

    listed = progress.get("sites_connected")
    connected = {str(site) for site in listed} if isinstance(listed, list) else set()
    job = progress.get("job") if isinstance(progress.get("job"), dict) else {}
    finished = bool(progress.get("finished")) or (event or {}).get("status") == rules.FINISHED
    counted = contract.typed_rounds(progress)  # a container wrote it: typed before use
    rounds_done = counted["rounds_done"] or 0
    num_rounds = counted["num_rounds"] or (exp.get("plan") or {}).get("num_rounds")
    running = event is not None and event.get("status") == rules.OPEN

    site_of = {kit.get("email"): kit.get("site") for kit in (state.get("kits") or {}).values()
               if kit.get("experiment") == exp_id and kit.get("role") == "client" and kit.get("site")}

    def site_state(label: str, email: str) -> str:
        if _failure_of(event, label, email, site_of.get(email)):
            return FAILED
        if finished:
            return DONE
        if not running:
            return NOT_STARTED
        if {label, email, site_of.get(email)} & connected:
            return TRAINING if job or rounds_done else WAITING
        return WAITING if milestone_of("dataset train", email) else NOT_STARTED

    agg_state = (FAILED if _failure_of(event, "aggregator") else DONE if finished else
                 TRAINING if running and (job or rounds_done) else WAITING if running and progress else NOT_STARTED)
    nodes = [{"id": "server", "kind": "server", "label": "MedPerf server", "email": "", "site": "",
              "state": event.get("status", "") if event else exp.get("state", ""),
              "milestone": f"experiment {exp_id} '{exp.get('name', '')}'" + (f", event '{event['name']}'" if event else "")},
             {"id": "admin", "kind": "admin", "label": "admin", "email": owner, "site": "experiment owner",
              "state": DONE if job or finished else (WAITING if running else NOT_STARTED),
              "milestone": "submit_job done" if job else None},
             {"id": "aggregator", "kind": "aggregator", "label": "aggregator",
              "email": users.get((aggregator or {}).get("owner"), ""),
              "site": f"{aggregator['address']}:{aggregator['fl_port']}" if aggregator else "not registered",
              "state": agg_state, "milestone": _failure_of(event, "aggregator") or milestone_of("aggregator start") or (
                  f"round {rounds_done} of {num_rounds} done" if running and num_rounds else None)}]
    for label, email in participants.items():
        site = site_of.get(email) or label
        nodes.append({"id": f"site:{label}", "kind": "site", "label": f"site {site}", "email": email, "site": label,
                      "state": site_state(label, email),
                      "milestone": _failure_of(event, label, email, site) or milestone_of("dataset train", email)})
    command = (step or {}).get("command") or ""
    active_round = running and bool(job or rounds_done) and not finished
    links = [{"from": "admin", "to": "aggregator", "kind": "job",
              "active": command in ("training submit_job", "training close_event", "training get_experiment_status")}]
    for node in nodes[3:]:
        links.append({"from": "aggregator", "to": node["id"], "kind": "round",
                      "active": active_round or command == "training submit_job"})
    return {"nodes": nodes, "links": links, "rounds": {"done": rounds_done, "total": num_rounds}}


# one short line per record of each table the records panel shows (``who``: a user's e-mail)
LINES = {
    "experiments": lambda r, who: f"{r.get('name')} · {r.get('state')} · {r.get('approval_status') or r.get('status', '')}",
    "containers": lambda r, who: f"{r.get('name')} · {(r.get('config') or {}).get('image', '')}",
    "aggregators": lambda r, who: f"{r.get('name')} · {r.get('address')}:{r.get('fl_port')}",
    "datasets": lambda r, who: f"{r.get('name')} · {r.get('state')} · {who(r.get('owner'))}",
    "associations": lambda r, who: f"{r.get('kind')} {r.get('entity')} → experiment {r.get('experiment')} · {r.get('status')}",
    "events": lambda r, who: f"{r.get('name')} · {r.get('status')} · {len(r.get('participants') or {})} participants",
}


def records(state: dict, limit: int = 12) -> list[dict]:
    """The server's records as short lines per table, for the page's records panel."""
    users = {uid: u.get("email", "") for uid, u in (state.get("users") or {}).items()}
    shown = []
    for table, line in LINES.items():
        rows = state.get(table) or {}
        shown.append({"table": table, "count": len(rows),
                      "rows": [f"{rid} {line(rows[rid], lambda uid: users.get(uid, ''))}"[:120]
                               for rid in sorted(rows)[-limit:]]})
    return shown
