from pathlib import Path

import typer
import yaml

from medperf_lite import entities, lazy, rules
from medperf_lite.cli.aggregator import associate_command
from medperf_lite.cli.common import RUNNER, SHOW_PLAN, YES, add_ls_view, group, session

training = lazy.module("medperf_lite.commands.training")


app = group("training", "Training experiments, their plan, events and jobs.")
add_ls_view(app, "training")

EXP_ID = typer.Option(..., "-t", "--training_exp_id", "--training-exp-id")


def _yaml(data) -> str:
    return yaml.safe_dump(data, sort_keys=False).rstrip()


@app.command(help='Register a training experiment (PENDING until approved; testmo@ is approved at once).')
def submit(
    name: str = typer.Option(..., "-n", "--name"),
    description: str = typer.Option(..., "-d", "--description"),
    prep_container: int = typer.Option(..., "-p", "--prep-container", "--prep_container"),
    fl_container: int = typer.Option(..., "-m", "--fl-container", "--fl_container"),
    fl_admin_container: int = typer.Option(None, "-a", "--fl-admin-container", "--fl_admin_container"),
    docs_url: str = typer.Option("", "-u", "--docs-url", help="accepted as MedPerf does; not used here"),
    operational: bool = typer.Option(False, "--operational", help="accepted as MedPerf does; not used here"),
    aggregator: int = typer.Option(None, "-g", "--aggregator", help="the aggregator's ID (MedPerf main)"),
):
    exp_id = training.submit(session(), name, description, prep_container, fl_container, fl_admin_container, aggregator)
    typer.echo(f"Training experiment '{name}' registered with ID {exp_id}")


@app.command(help="Approve a training experiment, as the server's admin (MedPerf's scripts do it with a curl PUT).")
def approve(training_exp_id: int = EXP_ID):
    typer.echo(f"Training experiment {training_exp_id}: {session().run(rules.decide_experiment, training_exp_id, True)}")


@app.command(help="Reject a training experiment, as the server's admin.")
def reject(training_exp_id: int = EXP_ID):
    typer.echo(f"Training experiment {training_exp_id}: {session().run(rules.decide_experiment, training_exp_id, False)}")


@app.command("set_plan", help="Run the FL container's generate_plan on a training config; store the plan and the startup kits.")
def set_plan(training_exp_id: int = EXP_ID,
             config_path: Path = typer.Option(..., "-c", "--config-path", "--config_path"),
             yes: bool = YES, runner: str = RUNNER, show_plan: bool = SHOW_PLAN):
    plan = training.set_plan(session(runner), training_exp_id, config_path, yes, show_plan)
    if plan["job_name"] is None and not plan["clients"]:  # MedPerf main's: no job, no kits
        typer.echo(f"Plan set for training experiment {training_exp_id}: {plan['num_rounds']} rounds")
        return
    typer.echo(f"Plan set for training experiment {training_exp_id}: job {plan['job_name']}, "
               f"{plan['num_rounds']} rounds, at least {plan['min_clients']} clients; startup kits stored for the "
               f"aggregator and {', '.join(plan['clients'])}")


@app.command("set_aggregator", help="Set the experiment's aggregator (MedPerf main); in the NVFlare flow, the same as "
                                    "'aggregator associate'.")
def set_aggregator(training_exp_id: int = typer.Option(..., "-t", "--training_exp_id", "--training-exp-id"),
                   aggregator_id: int = typer.Option(..., "-a", "--aggregator_id", "--aggregator-id"), yes: bool = YES):
    s = session()
    if s.home.flow != "flower":
        return associate_command(aggregator_id, training_exp_id, yes)
    training.set_aggregator(s, training_exp_id, aggregator_id, yes)
    typer.echo(f"Aggregator {aggregator_id} set for training experiment {training_exp_id}")


@app.command("start_event", help="Open an event with its participants (a YAML file {label: common name}, or the approved "
                                 "datasets' owners).")
def start_event(
    name: str = typer.Option(..., "-n", "--name"),
    training_exp_id: int = EXP_ID,
    participants_list_file: Path = typer.Option(None, "-p", "--participants_list_file", "--participants-list-file"),
    yes: bool = YES,
):
    event = training.start_event(session(), training_exp_id, name, participants_list_file, yes)
    typer.echo(f"Event '{name}' (ID {event['event']}) started for {', '.join(event['participants'])}")


@app.command("submit_job", help="Submit the plan's job: the admin container's start_federation.")
def submit_job(training_exp_id: int = EXP_ID, runner: str = RUNNER):
    if training.submit_job(session(runner), training_exp_id):
        typer.echo(f"Training job submitted for training experiment {training_exp_id}")
    else:
        typer.echo("The admin container has no start_federation task; nothing to submit")


@app.command("get_experiment_status", help="The federation's status: the admin container's get_experiment_status "
                                           "(and the event's recorded failures).")
def get_experiment_status(training_exp_id: int = EXP_ID, silent: bool = typer.Option(False, "--silent"),
                          runner: str = RUNNER):
    status = training.get_experiment_status(session(runner), training_exp_id)
    if not silent:
        typer.echo(_yaml(status))


def _closed(report: dict, what: str) -> None:
    shown = {k: v for k, v in report.items() if k != "history"}
    if isinstance(shown.get("weights"), list):  # the model first; a framework's hidden files counted, not listed
        files = [str(w) for w in shown["weights"]]
        shown["weights"] = entities.shown(files)
        if len(shown["weights"]) < len(files):
            shown["hidden_files"] = len(files) - len(shown["weights"])
    typer.echo(_yaml(shown))
    rounds = ""
    if isinstance(report.get("rounds_done"), int) and report.get("num_rounds"):
        rounds = f": {report['rounds_done']} of {report['num_rounds']} rounds"
    typer.echo(f"{what}{rounds}")


def _close(training_exp_id: int, report_file: Path | None, yes: bool, runner: str | None) -> None:
    _closed(training.close_event(session(runner), training_exp_id, yes, report_file), "Event closed")


@app.command("close_event", help="Stop the federation (the admin container's stop_federation) and close the event; if stopping "
                                 "fails, the event stays open.")
def close_event(training_exp_id: int = EXP_ID,
                report_file: Path = typer.Option(None, "-r", "--report_file", "--report-file"),
                yes: bool = YES, runner: str = RUNNER):
    _close(training_exp_id, report_file, yes, runner)


@app.command("cancel_event", help="Close the open event without stopping the federation (its running roles are "
                                   "stopped); the report is REPORT or the aggregator's latest.")
def cancel_event(training_exp_id: int = EXP_ID,
                 report_path: Path = typer.Option(None, "-r", "--report-path", "--report_path",
                                                  help="the report to close with (MedPerf main requires it)"),
                 yes: bool = YES, runner: str = RUNNER):
    _closed(training.cancel_event(session(runner), training_exp_id, yes, report_path), "Event cancelled")


@app.command("update_plan", help="Update a scalar field of the running plan (the admin container's update_plan).")
def update_plan(training_exp_id: int = EXP_ID, field_name: str = typer.Option(..., "-f", "--field_name"),
                value: str = typer.Option(..., "-v", "--value"), runner: str = RUNNER):
    training.update_plan(session(runner), training_exp_id, field_name, value)
    typer.echo(f"Plan field '{field_name}' updated")
