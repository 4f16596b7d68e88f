import typer

from medperf_lite import lazy
from medperf_lite.cli.common import group, session

certificate = lazy.module("medperf_lite.commands.certificate")


app = group("certificate", "Your certificates for a training experiment (from your startup kit).")
EXP_ID = typer.Option(..., "-t", "--training_exp_id", "--training-exp-id")


@app.command("get_client_certificate")
def get_client_certificate(training_exp_id: int = EXP_ID):
    folder = certificate.get(session(), training_exp_id, "client")
    typer.echo(f"Your client startup kit (certificate and keys) is in {folder}")


@app.command("get_server_certificate")
def get_server_certificate(training_exp_id: int = EXP_ID):
    folder = certificate.get(session(), training_exp_id, "server")
    typer.echo(f"The aggregator's startup kit (certificate and keys) is in {folder}")
