import typer

from medperf_lite.cli.common import add_ls_view, group, session
from medperf_lite.commands import container

app = group("container", "Register and list containers.")
add_ls_view(app, "container")


@app.command()
def submit(
    name: str = typer.Option(..., "-n", "--name"),
    config_file: str = typer.Option(..., "-m", "--container-config-file", help="path or URL of container_config.yaml"),
    parameters_file: str = typer.Option(None, "-p", "--parameters-file", help="path or URL of parameters.yaml"),
):
    cid = container.submit(session(), name, config_file, parameters_file)
    typer.echo(f"Container '{name}' registered with ID {cid}")
