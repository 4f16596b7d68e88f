import typer

from medperf_lite import lazy
from medperf_lite.cli.common import FORMAT, group, session
from medperf_lite.errors import MedperfError

rules = lazy.module("medperf_lite.rules")
listing = lazy.module("medperf_lite.commands.listing")

app = group("association", "Requests to join training experiments: list, approve, reject.")
EXP_ID = typer.Option(..., "-t", "--training_exp_id", "--training-exp-id")
DATASET = typer.Option(None, "-d", "--data_uid", "--dataset")
AGGREGATOR = typer.Option(None, "-a", "--aggregator_id", "--aggregator")


@app.command("ls")
def ls(fmt: str = FORMAT):
    typer.echo(listing.render(listing.association_records(session()), fmt, ("kind", "entity", "experiment", "status")))


def _decide(exp: int, data_uid: int | None, aggregator_id: int | None, approve: bool) -> None:
    if (data_uid is None) == (aggregator_id is None):
        raise MedperfError("give exactly one of --data_uid or --aggregator_id")
    kind, entity = ("dataset", data_uid) if data_uid is not None else ("aggregator", aggregator_id)
    status = session().run(rules.decide_association, kind, entity, exp, approve)
    typer.echo(f"{kind} {entity} in training experiment {exp}: {status}")


@app.command()
def approve(training_exp_id: int = EXP_ID, data_uid: int = DATASET, aggregator_id: int = AGGREGATOR):
    _decide(training_exp_id, data_uid, aggregator_id, True)


@app.command()
def reject(training_exp_id: int = EXP_ID, data_uid: int = DATASET, aggregator_id: int = AGGREGATOR):
    _decide(training_exp_id, data_uid, aggregator_id, False)
