import typer

from medperf_lite import lazy
from medperf_lite.cli.common import add_ls_view, group, session
from medperf_lite.errors import MedperfError

container = lazy.module("medperf_lite.commands.container")


app = group("container", "Register and list containers.")
add_ls_view(app, "container")


@app.command(help='Register a container: its MedPerf container config (and parameters file), parsed and stored on the server.')
def submit(
    name: str = typer.Option(..., "-n", "--name"),
    config_file: str = typer.Option(..., "-m", "--container-config-file", help="path or URL of container_config.yaml"),
    parameters_file: str = typer.Option(None, "-p", "--parameters-file", help="path or URL of parameters.yaml"),
    additional_file: str = typer.Option(None, "-a", "--additional-file", help="a .tar.gz of the container's additional "
                                        "files (e.g. initial weights), given to its tasks as additional_files"),
    config_hash: str = typer.Option(None, "--container-config-hash", help="sha256 the config file must have"),
    parameters_hash: str = typer.Option(None, "--parameters-hash", help="sha256 the parameters file must have"),
    additional_hash: str = typer.Option(None, "--additional-hash", help="sha256 the additional file must have"),
    image_hash: str = typer.Option(None, "--image-hash", help="accepted as MedPerf does; not used"),
    operational: bool = typer.Option(False, "--operational", help="accepted as MedPerf does; not used"),
    decryption_key: str = typer.Option(None, "-d", "--decryption-key", "--decryption_key",
                                       help="MedPerf main's key of an encrypted image: refused, none is encrypted here"),
):
    if decryption_key is not None:
        raise MedperfError("encrypted container images are not supported here: no image is pulled from a registry, "
                           "each is built from its folder")
    cid = container.submit(session(), name, config_file, parameters_file, config_hash, parameters_hash,
                           additional_file, additional_hash)
    typer.echo(f"Container '{name}' registered with ID {cid}")
