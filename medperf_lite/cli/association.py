import typer

from medperf_lite import lazy
from medperf_lite.cli.common import FORMAT, group, session
from medperf_lite.errors import MedperfError

rules = lazy.module("medperf_lite.rules")
listing = lazy.module("medperf_lite.commands.listing")

app = group("association", "Requests to join training experiments: list, approve, reject.")
EXP_ID = typer.Option(..., "-t", "--training_exp_id", "--training-exp-id", "--training_exp")
DATASET = typer.Option(None, "-d", "--data_uid", "--dataset")
AGGREGATOR = typer.Option(None, "-a", "--aggregator_id", "--aggregator")


KINDS = {"dataset": "Dataset", "aggregator": "Aggregator", "ca": "Ca"}


@app.command("ls", help="List association requests (MedPerf's table with -d, -a or -c; every kind without).")
def ls(training_exp: bool = typer.Option(False, "-t", help="training associations (the only kind here)"),
       benchmark: bool = typer.Option(False, "-b", help="benchmark associations (none here: no benchmarks)"),
       dataset: bool = typer.Option(False, "-d", help="dataset associations"),
       mlcube: bool = typer.Option(False, "-m", help="model associations (none here: no benchmarks)"),
       aggregator: bool = typer.Option(False, "-a", help="aggregator associations"),
       ca: bool = typer.Option(False, "-c", help="CA associations"),
       approval_status: str = typer.Option(None, "--approval-status", help="PENDING, APPROVED or REJECTED"),
       fmt: str = FORMAT):
    records = listing.association_records(session())
    if benchmark or mlcube:
        records = []  # medperf-lite plays the training flow: benchmarks and their models do not exist here
    kinds = [k for k, chosen in (("dataset", dataset), ("aggregator", aggregator), ("ca", ca)) if chosen]
    records = [r for r in records if (not kinds or r["kind"] in kinds)
               and (approval_status is None or r["status"] == approval_status.upper())]
    if fmt != "table":
        typer.echo(listing.render(records, fmt))
    elif len(kinds) == 1:
        headers = (f"{KINDS[kinds[0]]} UID", "Training Exp UID", "Initiated by", "Status")
        typer.echo(listing.table([[r["entity"], r["experiment"], r["owner"], r["status"]] for r in records], headers))
    else:
        headers = ("Component", "Component UID", "Training Exp UID", "Initiated by", "Status")
        typer.echo(listing.table([[r["kind"], r["entity"], r["experiment"], r["owner"], r["status"]] for r in records],
                                 headers))


def _decide(exp: int, data_uid: int | None, aggregator_id: int | None, approve: bool) -> None:
    if (data_uid is None) == (aggregator_id is None):
        raise MedperfError("give exactly one of --data_uid or --aggregator_id")
    kind, entity = ("dataset", data_uid) if data_uid is not None else ("aggregator", aggregator_id)
    status = session().run(rules.decide_association, kind, entity, exp, approve)
    typer.echo(f"{kind} {entity} in training experiment {exp}: {status}")


@app.command("approve", help="Approve a dataset's or an aggregator's request to join a training experiment "
                              "(its owner).")
def approve(training_exp_id: int = EXP_ID, data_uid: int = DATASET, aggregator_id: int = AGGREGATOR):
    _decide(training_exp_id, data_uid, aggregator_id, True)


@app.command("reject", help="Reject a dataset's or an aggregator's request to join a training experiment "
                            "(its owner).")
def reject(training_exp_id: int = EXP_ID, data_uid: int = DATASET, aggregator_id: int = AGGREGATOR):
    _decide(training_exp_id, data_uid, aggregator_id, False)


@app.command("set_priority", help="MedPerf's priority of a benchmark's model association; medperf-lite plays the "
                                  "training flow, which has none.")
def set_priority(benchmark_uid: int = typer.Option(..., "-b", "--benchmark"),
                 model_uid: int = typer.Option(..., "-m", "--model"),
                 priority: int = typer.Option(..., "-p", "--priority")):
    raise MedperfError(f"benchmark {benchmark_uid} does not exist: medperf-lite plays MedPerf's training flow, "
                       "which has no benchmarks or model priorities")
