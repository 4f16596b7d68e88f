"""medperf aggregator start (submit and associate are single server rules)."""

from __future__ import annotations

import threading
from pathlib import Path

import yaml

from medperf_lite import rules
from medperf_lite.commands import Session, certificate
from medperf_lite.commands.milestones import live_output
from medperf_lite.commands.nodes import (
    cert_folders,
    experiment_dir,
    fetch_kit,
    keep_or_clear,
    plan_file,
    run_role,
)
from medperf_lite.containers import sitenet
from medperf_lite.errors import MedperfError

PUBLISH_EVERY = 0.5  # seconds between looks at the aggregator's report file


def start(session: Session, exp_id: int, publish_on: str, overwrite: bool = False, verbose: bool = False) -> None:
    """Fetches the server kit into a fresh fl_workspace and runs the aggregation container's
    start_aggregator; publishes its report to the event; blocks until the federation stops."""
    rules.require_loopback(publish_on, "--publish_on", sitenet.site_addresses())
    _, agg_id = session.run(rules.check_aggregator_start, exp_id)
    state = session.state()
    container = rules.get(state, "containers", state["aggregators"][agg_id]["container"], "aggregation container")
    work = experiment_dir(session, exp_id, "aggregator")
    outputs = {"output_logs": work / "output_logs", "output_weights": work / "output_weights",
               "report_path": work / "report" / "report.yaml"}
    keep_or_clear(list(outputs.values()), overwrite, "aggregator start")
    _, event = rules.require_open_event(state, exp_id)
    collaborators = work / "collaborators.yaml"
    offered = {"plan_path": plan_file(session, exp_id, work / "plan.yaml"), "collaborators": collaborators, **outputs}
    if session.home.flow == "flower":  # cols.yaml with each participant's signing certificate; the server's own
        from medperf_lite.commands.certificate import ca_id

        collaborators.write_text(yaml.safe_dump(session.run(rules.collaborators, exp_id, ca_id(session))))
        offered.update(certificate.folders(session, state["aggregators"][agg_id]["address"], "RSA"))
    else:
        collaborators.write_text(yaml.safe_dump(event["participants"]))
        offered.update({"fl_workspace": fetch_kit(session, exp_id, "server", work / "fl_workspace"),
                        **cert_folders(work)})
    stop = threading.Event()
    # main's close runs no container: once the report says finished, it names the final weights too
    weights = outputs["output_weights"] if session.home.flow == "flower" else None
    publisher = threading.Thread(target=_publish, args=(session, exp_id, outputs["report_path"], stop, weights),
                                 daemon=True)
    publisher.start()
    log = work / "logs" / "start_aggregator.log"
    print(f"aggregator: starting for event '{event['name']}' with {len(event['participants'])} participant(s); "
          f"its log: {log}", flush=True)
    try:
        run_role(session, exp_id, "aggregator start", "start_aggregator", container, offered, log, "aggregator", None,
                 echo=verbose or live_output(session))
    finally:
        stop.set()
        publisher.join(10)

def finished_report(data: dict) -> bool:
    """A main-flow aggregator's report says training is over: our progress format's
    ``finished``, or MedPerf's own container's ``IsDone: 1``."""
    return data.get("finished") is True or (data.get("IsDone") == 1 and not isinstance(data.get("IsDone"), bool))


def _publish(session: Session, exp_id: int, report: Path, stop: threading.Event, weights: Path | None = None) -> None:
    """The aggregator's latest report, as it changes, on the open event (MedPerf's report_path);
    with ``weights``, a finished report also names the files in that folder."""
    from medperf_lite.entities import weight_files

    last = None
    while True:
        finished = stop.wait(PUBLISH_EVERY)
        try:
            data = yaml.safe_load(report.read_text()) if report.exists() and report.stat().st_size < (1 << 20) else None
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            data = None  # being rewritten; next look
        if isinstance(data, dict) and weights is not None and finished_report(data):
            data = {**data, "output_weights": str(weights), "weights": weight_files(weights)}
        if isinstance(data, dict) and data != last:
            try:
                session.run(rules.publish_progress, exp_id, data)
                last = data
            except MedperfError:
                return  # the event was closed
        if finished:
            return
