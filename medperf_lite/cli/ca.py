import typer

from medperf_lite import lazy
from medperf_lite.cli.common import YES, add_ls_view, group, session

rules = lazy.module("medperf_lite.rules")

app = group("ca", "Certificate authorities.")
add_ls_view(app, "ca")


@app.command(help='Associate a CA with a training experiment (the built-in CA; approved at once).')
def associate(
    training_exp_id: int = typer.Option(..., "-t", "--training_exp_id"),
    ca_id: int = typer.Option(..., "-c", "--ca_id"),
    yes: bool = YES,
):
    status = session().run(rules.associate_ca, training_exp_id, ca_id)
    typer.echo(f"CA {ca_id} associated with training experiment {training_exp_id} ({status})")
