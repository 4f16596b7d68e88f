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
