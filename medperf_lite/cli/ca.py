from pathlib import Path

import typer

from medperf_lite import lazy
from medperf_lite.cli.common import YES, add_ls_view, group, session

rules = lazy.module("medperf_lite.rules")
inputs = lazy.module("medperf_lite.inputs")

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


@app.command(help="Register a certificate authority: its config (JSON, with its fingerprint) and its three containers.")
def submit(
    name: str = typer.Option(..., "-n", "--name"),
    config_path: Path = typer.Option(..., "-c", "--config-path", "--config_path", help="the CA's config (JSON)"),
    ca_container: int = typer.Option(..., "--ca-container", "--ca_container", help="the container that trusts it"),
    client_container: int = typer.Option(..., "--client-container", "--client_container",
                                         help="the container clients get certificates from"),
    server_container: int = typer.Option(..., "--server-container", "--server_container",
                                         help="the container servers get certificates from"),
):
    s = session()
    config = inputs.load_mapping(s.own_path(config_path), "CA config")  # JSON is YAML
    ca_id = s.run(rules.submit_ca, name, config, ca_container, client_container, server_container)
    typer.echo(f"CA '{name}' registered with ID {ca_id}")
