import typer

from medperf_lite.cli.common import group
from medperf_lite.home import Home

app = group("profile", "Profiles: each with its own login, to play several roles on one machine.")


@app.command()
def create(name: str = typer.Option(..., "-n", "--name")):
    Home().create_profile(name)
    typer.echo(f"Profile '{name}' created")


@app.command()
def activate(name: str):
    Home().activate_profile(name)
    typer.echo(f"Profile '{name}' activated")


@app.command("ls")
def ls():
    home = Home()
    active = home.profile()
    for name, profile in home.profiles().items():
        typer.echo(f"{'*' if name == active else ' '} {name}  {profile['user'] or '(not logged in)'}")


@app.command()
def delete(name: str):
    Home().delete_profile(name)
    typer.echo(f"Profile '{name}' deleted")
