from pathlib import Path

import typer
import yaml

from medperf_lite import lazy
from medperf_lite.cli.common import RUNNER, SHOW_PLAN, VERBOSE, YES, add_ls_view, group, session
from medperf_lite.errors import MedperfError

dataset = lazy.module("medperf_lite.commands.dataset")

app = group("dataset", "Register, prepare and train on datasets.")
add_ls_view(app, "dataset")

DATA_UID = typer.Option(..., "-d", "--data_uid", "--data-uid")


@app.command(help="Register a dataset's metadata (its raw data's hash as identity; the data stays on this machine).")
def submit(
    data_prep: int = typer.Option(..., "-p", "--data_prep", "--data-prep"),
    data_path: Path = typer.Option(..., "-d", "--data_path", "--data-path"),
    labels_path: Path = typer.Option(..., "-l", "--labels_path", "--labels-path"),
    name: str = typer.Option(..., "-n", "--name"),
    description: str = typer.Option("", "--description"),
    location: str = typer.Option("", "--location"),
    benchmark: int = typer.Option(None, "-b", "--benchmark", help="accepted as MedPerf does; not used here"),
    metadata_path: str = typer.Option(None, "-m", "--metadata_path", help="accepted as MedPerf does; not used here"),
    submit_as_prepared: bool = typer.Option(False, "--submit-as-prepared", help="not supported here"),
    yes: bool = YES,
):
    if submit_as_prepared:
        raise MedperfError("--submit-as-prepared is not supported by medperf-lite; submit the raw data and prepare it")
    ds_id = dataset.submit(session(), data_prep, data_path, labels_path, name, description, location, yes)
    typer.echo(f"Dataset '{name}' registered with ID {ds_id}")


@app.command(help="Run the prep container's prepare, sanity_check and statistics on this machine.")
def prepare(data_uid: int = DATA_UID, yes: bool = YES, runner: str = RUNNER):
    stats = dataset.prepare(session(runner), data_uid)
    typer.echo(yaml.safe_dump({"statistics": stats}, sort_keys=False).rstrip())
    typer.echo(f"Dataset {data_uid} prepared and checked")


@app.command("set_operational", help='Mark a prepared dataset operational and upload its statistics.')
def set_operational(data_uid: int = DATA_UID, yes: bool = YES):
    dataset.set_operational(session(), data_uid, yes)
    typer.echo(f"Dataset {data_uid} is operational")


@app.command(help='Request the participation of an operational dataset in a training experiment.')
def associate(data_uid: int = DATA_UID,
              training_exp_uid: int = typer.Option(..., "-t", "--training_exp_uid", "--training_exp_id"),
              benchmark: int = typer.Option(None, "-b", "--benchmark_uid", help="accepted as MedPerf does; not used"),
              no_cache: bool = typer.Option(False, "--no-cache", help="accepted as MedPerf does; not used here"),
              yes: bool = YES):
    status = dataset.associate(session(), data_uid, training_exp_uid, yes)
    typer.echo(f"Dataset {data_uid} asked to join training experiment {training_exp_uid}: {status}")


@app.command(help="Start this data owner's training node: the FL container's train task on the prepared data; blocks until the "
                  "federation stops.")
def train(data_uid: int = DATA_UID,
          training_exp_id: int = typer.Option(..., "-t", "--training_exp_id", "--training_exp_uid"),
          yes: bool = YES, overwrite: bool = typer.Option(False, "--overwrite", help="replace an earlier run's outputs"),
          restart_on_failure: bool = typer.Option(False, "--restart_on_failure", help="not supported here"),
          skip_prompt: bool = typer.Option(False, "--skip_restart_on_failure_prompt", help="accepted; not used"),
          runner: str = RUNNER, verbose: bool = VERBOSE, show_plan: bool = SHOW_PLAN):
    if restart_on_failure:
        raise MedperfError("--restart_on_failure is not supported by medperf-lite; run 'medperf dataset train' again")
    dataset.train(session(runner), data_uid, training_exp_id, yes, overwrite, verbose, show_plan)
    typer.echo("The federation was shut down; training node stopped.")
