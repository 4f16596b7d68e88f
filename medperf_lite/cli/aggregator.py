
import typer

from medperf_lite import lazy, rules
from medperf_lite.cli.common import RUNNER, VERBOSE, YES, add_ls_view, group, session

aggregator = lazy.module("medperf_lite.commands.aggregator")


app = group("aggregator", "Register, associate and start aggregators.")
add_ls_view(app, "aggregator")

AGG_ID = typer.Option(..., "-a", "--aggregator_id", "--aggregator-id")
EXP_ID = typer.Option(..., "-t", "--training_exp_id", "--training-exp-id")


@app.command(help='Register an aggregator: the address the clients dial and its two ports (FL, admin), loopback only.')
def submit(
    name: str = typer.Option(..., "-n", "--name"),
    container: int = typer.Option(..., "-m", "--aggregation-container", "--aggregation_container"),
    address: str = typer.Option(..., "-a", "--address",
                                help="the address clients dial (loopback, or a site address of a run medperf-lite plays)"),
    port: list[int] = typer.Option(..., "-p", "--port", help="the FL port; in MedPerf's NVFlare flow given twice: the FL "
                                   "port, then the admin port"),
    admin_port: int = typer.Option(None, "--admin-port", "--admin_port", help="the admin port (MedPerf main)"),
):
    ports = list(port)
    if admin_port is not None:
        if len(ports) != 1:
            raise typer.BadParameter("with --admin-port, give --port once", param_hint="'-p' / '--port'")
        ports.append(admin_port)
    from medperf_lite.containers import sitenet

    agg_id = session().run(rules.submit_aggregator, name, container, address, ports, sitenet.site_addresses())
    typer.echo(f"Aggregator '{name}' registered with ID {agg_id}")


def associate_command(aggregator_id: int = AGG_ID, training_exp_id: int = EXP_ID, yes: bool = YES):
    status = session().run(rules.associate_aggregator, aggregator_id, training_exp_id)
    typer.echo(f"Aggregator {aggregator_id} associated with training experiment {training_exp_id} ({status})")


app.command("associate", help="Associate an aggregator with a training experiment (approved at once when its owner owns "
                          "the experiment).")(associate_command)


@app.command(help="Start the aggregator: the FL container's start_aggregator on the server kit; blocks until the federation "
                  "stops.")
def start(
    training_exp_id: int = EXP_ID,
    publish_on: str = typer.Option(..., "-p", "--publish_on", "--publish-on", help="where the server listens"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an earlier run's outputs"),
    runner: str = RUNNER,
    verbose: bool = VERBOSE,
):
    aggregator.start(session(runner), training_exp_id, publish_on, overwrite, verbose)
    typer.echo("The federation was shut down; aggregator stopped.")
