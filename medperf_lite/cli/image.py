"""`medperf-lite image`: build a MedPerf container folder's image for the local runner and for
Docker, and list which images are ready for which runner."""

from pathlib import Path

import typer

from medperf_lite import settings
from medperf_lite.cli.common import group
from medperf_lite.errors import MedperfError

app = group("image", "Images of MedPerf container folders, for the local runner and Docker.")


@app.command()
def build(
    folder: Path = typer.Argument(..., help="a MedPerf container folder: container_config.yaml, Dockerfile, sources"),
    tag: str = typer.Option(None, "--tag", help="image name (default: the config's 'image')"),
    substitutions: Path = typer.Option(None, "--substitutions", "--constraints",
                                       help="'name==version' lines that replace pins which cannot be had here"),
    runner: str = typer.Option("local", "--for", help="local, docker or all"),
    strict: bool = typer.Option(False, "--strict", help="refuse a config with keys, tasks or volumes MedPerf's "
                                "training flow does not use (otherwise warnings)"),
):
    """Make the folder's image available to the local runner (a cached layout and Python
    environment) and/or to Docker (built offline on medperf-lite's base)."""
    from medperf_lite.containers import docker_build, images

    if runner not in ("local", "docker", "all"):
        raise MedperfError(f"--for must be local, docker or all, not '{runner}'")
    warnings = check(folder, strict)
    if runner in ("local", "all"):
        image, built = images.build_local(folder, settings.current(), tag, substitutions, echo=typer.echo)
        for step in image.skipped:
            typer.echo(f"  skipped for the local runner (the host provides it): RUN {step}")
        for note in image.notes:
            typer.echo(f"  {note}")
        typer.echo(f"local image {image.name}: {'built' if built else 'up to date'} ({image.size() / 1e6:.0f} MB, "
                   f"hash {image.hash})")
    if runner in ("docker", "all"):
        name, built = docker_build.build_docker(folder, settings.current(), tag, substitutions, echo=typer.echo)
        size = docker_build.engine().images.get(name).attrs["Size"] / 1e6
        typer.echo(f"docker image {name}: {'built' if built else 'up to date'} ({size:.0f} MB)")
    for finding in warnings:  # once built: a failed build's one line stays one line
        typer.echo(f"Warning: {finding}", err=True)


def check(folder: Path, strict: bool) -> list[str]:
    """The config against MedPerf's training flow (config_check): its findings, or with --strict a
    refusal (before any build)."""
    from medperf_lite.containers import check as config_check
    from medperf_lite.containers import config as container_config
    from medperf_lite.inputs import read_file

    path = folder / "container_config.yaml"
    if not path.is_file():
        return []  # the build says what is missing
    text = read_file(path)
    found = config_check.findings(container_config.parse(text, path, str(path))[0], text, str(path))
    if strict and found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise MedperfError(f"{found[0]}{more}")
    return found


@app.command("ls")
def ls():
    """Images ready for each runner."""
    from medperf_lite.containers import docker_build, images

    local = {image.name: image for image in images.list_local(settings.current())}
    docker: set[str] = set()
    reason = ""
    try:
        client = docker_build.engine()
        docker = {t for i in client.images.list() for t in i.tags if ":src-" not in t}
    except MedperfError as e:
        reason = f" (Docker: {e.message})"
    names = sorted(set(local) | docker)
    if not names:
        typer.echo("no images" + reason)
        return
    width = max(len(n) for n in names)
    typer.echo(f"{'IMAGE'.ljust(width)}  LOCAL  DOCKER")
    for name in names:
        typer.echo(f"{name.ljust(width)}  {'yes' if name in local else '-':<5}  {'yes' if name in docker else '-'}")
    if reason:
        typer.echo(reason.strip())
