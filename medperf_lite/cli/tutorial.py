from pathlib import Path

import typer

from medperf_lite import lazy
from medperf_lite.cli import common
from medperf_lite.cli.common import group
from medperf_lite.errors import MedperfError

tutorial = lazy.module("medperf_lite.commands.tutorial")

app = group("tutorial", "The tutorial's workspace.")


@app.command()
def init(directory: Path = typer.Argument(Path("."), help="where medperf_tutorial/ is laid out"),
         images: int = typer.Option(None, help="toy images per data owner [default: the tutorial's 300]"),
         address: str = typer.Option("127.0.0.1", help="the aggregator's address in secure_project.yml (loopback)"),
         ports: str = typer.Option("8102,8103", help="the aggregator's FL and admin ports, e.g. 8102,8103"),
         timings: str = typer.Option("fast", help="our node container's NVFlare timings: fast, or nvflare (its defaults)"),
         containers: Path = typer.Option(None, "--containers", help="take the containers and training config found "
                                         "under this folder in MedPerf's layout (e.g. MedPerf's examples)"),
         build: bool = typer.Option(True, "--build/--no-build", help="build the containers' images for the local "
                                    "runner (cached by content)"),
         round_pause: float = typer.Option(0.0, "--round-pause", help="seconds our training config's controller "
                                           "waits between rounds, a class's time to look [default: none]"),
         data_owners: int = typer.Option(2, "--data-owners", help="data owners, each with their own toy data, "
                                         "site and user (the tutorial's two, then faker identities)"),
         flow: str = typer.Option("nvflare", "--flow", help="the MedPerf flow the home follows: nvflare (the seed "
                                  "tutorial's, MedPerf's nvflare-integration branch) or flower (MedPerf main)")):
    home = common.home()
    if flow == "flower":
        path = tutorial.init_flower(home, directory, tutorial.IMAGES_PER_SITE if images is None else images, data_owners,
                                    containers)
        if build:
            tutorial.build_images(path, home.settings.but(runner="local"), echo=lambda *_: None)
        added = tutorial.register_owners(home, data_owners)
        typer.echo(f"Workspace for MedPerf main's flow ready at {path}: data, the prep, CA and Flower containers, "
                   "training_config.yaml" + (f"; users added: {', '.join(added)}" if added else ""))
        typer.echo("This home follows MedPerf main's flow (profile view shows it)")
        return
    if flow != "nvflare":
        raise MedperfError(f"--flow takes nvflare or flower, not '{flow}'")
    try:
        fl_port, admin_port = (int(p) for p in ports.split(","))
    except ValueError:
        raise MedperfError(f"--ports takes two ports separated by a comma, e.g. 8102,8103, not '{ports}'") from None
    images = tutorial.IMAGES_PER_SITE if images is None else images
    path = tutorial.init(home, directory, images, address, (fl_port, admin_port), timings, containers, round_pause,
                         data_owners)
    if build:
        tutorial.build_images(path, home.settings.but(runner="local"), echo=lambda *_: None)
    added = tutorial.register_owners(home, data_owners)
    typer.echo(f"Tutorial workspace ready at {path}; run the tutorial's commands from {path.parent}")
    if data_owners != tutorial.DEFAULT_OWNERS:
        typer.echo(f"{data_owners} data owners (medperf_tutorial/cols_list.yaml), their sites col1-col{data_owners}"
                   + (f"; users added: {', '.join(added)}" if added else ""))


@app.command()
def data(dest: Path = typer.Argument(..., help="folder to write <Image ID>.png files and labels.csv into"),
         site: str = typer.Option("col1", help="site name (image IDs and the random seed derive from it)"),
         images: int = typer.Option(None, help="number of images [default: the tutorial's 300]"),
         broken: bool = typer.Option(False, help="add a corrupt PNG and drop label rows")):
    """Generate toy chest X-ray data (deterministic per site)."""
    tutorial.toy_data().generate(dest, site=site, images=tutorial.IMAGES_PER_SITE if images is None else images, broken=broken)
    typer.echo(f"Toy data for {site} written to {dest}")
