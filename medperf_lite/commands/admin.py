"""The admin container's tasks (submit_job's start_federation, get_experiment_status,
update_plan, close_event's stop_federation): they talk to a running aggregator, with the admin kit
(NVFlare's flow) or the user's own certificate (MedPerf main's)."""

from __future__ import annotations

from pathlib import Path

from medperf_lite import net
from medperf_lite.commands import Session, certificate
from medperf_lite.commands.nodes import experiment_container, experiment_dir, run_step
from medperf_lite.containers import contract
from medperf_lite.containers.runners import has_task
from medperf_lite.errors import MedperfError


def require_aggregator(session: Session, event_id: int) -> None:
    """Admin tasks need the aggregator's admin port; fail at once when nothing listens."""
    state = session.state()
    agg = state["aggregators"][state["events"][event_id]["aggregator"]]
    if not net.reachable(agg["address"], agg["admin_port"]):
        exp_id = state["events"][event_id]["experiment"]
        raise MedperfError(f"the aggregator at {agg['address']}:{agg['admin_port']} is not reachable: it is not running "
                           f"(stopped or crashed). Its owner starts it again with 'medperf "
                           f"aggregator start --training_exp_id {exp_id} --publish_on {agg['address']} --overwrite', "
                           "or the experiment's owner cancels the event with "
                           f"'medperf training cancel_event --training_exp_id {exp_id}'")


def admin_workspace(session: Session, exp_id: int) -> Path:
    """The admin kit set_plan unpacked on the experiment owner's machine."""
    workspace = experiment_dir(session, exp_id, "admin_workspace")
    if not any(workspace.iterdir()):
        raise MedperfError(f"no admin startup kit for training experiment {exp_id} on this machine; "
                           "run 'medperf training set_plan' again")
    return workspace


def run_admin_step(session: Session, exp_id: int, event_id: int, command: str, task: str, offered: dict,
                   log: Path, timeout: float, env: dict | None = None) -> bool:
    """Runs an admin container task; False when the container lacks an optional one."""
    container = experiment_container(session, exp_id, "fl_admin")
    if contract.step(command, task, session.home.flow).optional and not has_task(container, task):
        return False
    require_aggregator(session, event_id)
    if session.home.flow == "flower":
        offered = {**offered, **certificate.folders(session, session.user, "EC")}
    else:
        offered = {"fl_workspace": admin_workspace(session, exp_id), **offered}
    run_step(session, command, task, container, offered, log, timeout=timeout, echo=True, env=env)
    return True
