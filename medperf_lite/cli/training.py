from pathlib import Path

import typer
import yaml

from medperf_lite import rules
from medperf_lite.cli.aggregator import associate_command
from medperf_lite.cli.common import RUNNER, YES, add_ls_view, group, session
from medperf_lite.commands import training

app = group("training", "Training experiments, their plan, events and jobs.")
add_ls_view(app, "training")

EXP_ID = typer.Option(..., "-t", "--training_exp_id", "--training-exp-id")


def _yaml(data) -> str:
    return yaml.safe_dump(data, sort_keys=False).rstrip()


@app.command()
def submit(
    name: str = typer.Option(..., "-n", "--name"),
    description: str = typer.Option(..., "-d", "--description"),
    prep_container: int = typer.Option(..., "-p", "--prep-container", "--prep_container"),
    fl_container: int = typer.Option(..., "-m", "--fl-container", "--fl_container"),
    fl_admin_container: int = typer.Option(None, "-a", "--fl-admin-container", "--fl_admin_container"),
):
    exp_id = training.submit(session(), name, description, prep_container, fl_container, fl_admin_container)
    typer.echo(f"Training experiment '{name}' registered with ID {exp_id}")


@app.command()
def approve(training_exp_id: int = EXP_ID):
    typer.echo(f"Training experiment {training_exp_id}: {session().run(rules.decide_experiment, training_exp_id, True)}")


@app.command()
def reject(training_exp_id: int = EXP_ID):
    typer.echo(f"Training experiment {training_exp_id}: {session().run(rules.decide_experiment, training_exp_id, False)}")


@app.command("set_plan")
def set_plan(training_exp_id: int = EXP_ID,
             config_path: Path = typer.Option(..., "-c", "--config-path", "--config_path")):
    summary = training.set_plan(session(), training_exp_id, config_path)
    typer.echo(f"Plan set for training experiment {training_exp_id}: {summary['name']}, "
               f"{summary['num_rounds']} rounds, at least {summary['min_clients']} clients")


app.command("set_aggregator", help="Same as 'aggregator associate'.")(associate_command)


@app.command("start_event")
def start_event(
    name: str = typer.Option(..., "-n", "--name"),
    training_exp_id: int = EXP_ID,
    participants_list_file: Path = typer.Option(None, "-p", "--participants_list_file", "--participants-list-file"),
    yes: bool = YES,
):
    event = training.start_event(session(), training_exp_id, name, participants_list_file, yes)
    typer.echo(f"Event '{name}' (ID {event['event']}) started; startup kits provisioned for "
               f"{', '.join(event['participants'])}")


@app.command("submit_job")
def submit_job(training_exp_id: int = EXP_ID, runner: str = RUNNER):
    typer.echo(f"Job {training.submit_job(session(), training_exp_id, runner)} submitted")


@app.command("get_experiment_status")
def get_experiment_status(training_exp_id: int = EXP_ID, runner: str = RUNNER):
    typer.echo(_yaml(training.get_experiment_status(session(), training_exp_id, runner)))


@app.command("close_event")
def close_event(training_exp_id: int = EXP_ID, yes: bool = YES, runner: str = RUNNER):
    report = training.close_event(session(), training_exp_id, yes, runner)
    typer.echo(_yaml({k: v for k, v in report.items() if k != "history"}))
    typer.echo(f"Event closed: {report['rounds_done']} of {report['num_rounds']} rounds")
