from pathlib import Path

import typer
import yaml

from medperf_lite.cli.common import RUNNER, YES, add_ls_view, group, session
from medperf_lite.commands import dataset

app = group("dataset", "Register, prepare and train on datasets.")
add_ls_view(app, "dataset")

DATA_UID = typer.Option(..., "-d", "--data_uid", "--data-uid")


@app.command()
def submit(
    data_prep: int = typer.Option(..., "-p", "--data_prep", "--data-prep"),
    data_path: Path = typer.Option(..., "-d", "--data_path", "--data-path"),
    labels_path: Path = typer.Option(..., "-l", "--labels_path", "--labels-path"),
    name: str = typer.Option(..., "-n", "--name"),
    description: str = typer.Option("", "--description"),
    location: str = typer.Option("", "--location"),
    yes: bool = YES,
):
    ds_id = dataset.submit(session(), data_prep, data_path, labels_path, name, description, location, yes)
    typer.echo(f"Dataset '{name}' registered with ID {ds_id}")


@app.command()
def prepare(data_uid: int = DATA_UID, runner: str = RUNNER):
    stats = dataset.prepare(session(), data_uid, runner)
    typer.echo(yaml.safe_dump({"statistics": stats}, sort_keys=False).rstrip())
    typer.echo(f"Dataset {data_uid} prepared and checked")


@app.command("set_operational")
def set_operational(data_uid: int = DATA_UID, yes: bool = YES):
    dataset.set_operational(session(), data_uid, yes)
    typer.echo(f"Dataset {data_uid} is operational")


@app.command()
def associate(data_uid: int = DATA_UID,
              training_exp_uid: int = typer.Option(..., "-t", "--training_exp_uid", "--training_exp_id"),
              yes: bool = YES):
    status = dataset.associate(session(), data_uid, training_exp_uid, yes)
    typer.echo(f"Dataset {data_uid} asked to join training experiment {training_exp_uid}: {status}")


@app.command()
def train(data_uid: int = DATA_UID,
          training_exp_id: int = typer.Option(..., "-t", "--training_exp_id", "--training_exp_uid"),
          yes: bool = YES, runner: str = RUNNER):
    dataset.train(session(), data_uid, training_exp_id, yes, runner)
    typer.echo("The federation was shut down; training node stopped.")
