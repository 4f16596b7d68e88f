from pathlib import Path

import typer

from medperf_lite.cli.common import group
from medperf_lite.commands import tutorial

app = group("tutorial", "The tutorial's workspace.")


@app.command()
def init(directory: Path = typer.Argument(Path("."), help="where medperf_tutorial/ is laid out"),
         images: int = typer.Option(tutorial.IMAGES_PER_SITE, help="toy images per data owner")):
    path = tutorial.init(directory, images)
    typer.echo(f"Tutorial workspace ready at {path}; run the tutorial's commands from {path.parent}")


@app.command()
def data(dest: Path = typer.Argument(..., help="folder to write <Image ID>.png files and labels.csv into"),
         site: str = typer.Option("col1", help="site name (image IDs and the random seed derive from it)"),
         images: int = typer.Option(tutorial.IMAGES_PER_SITE, help="number of images"),
         broken: bool = typer.Option(False, help="add a corrupt PNG and drop label rows")):
    """Generate toy chest X-ray data (deterministic per site)."""
    tutorial.toy_data().generate(dest, site=site, images=images, broken=broken)
    typer.echo(f"Toy data for {site} written to {dest}")
