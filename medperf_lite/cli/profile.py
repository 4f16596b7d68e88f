import typer
import yaml

from medperf_lite import lazy
from medperf_lite.cli.common import group
from medperf_lite.errors import MedperfError

homes = lazy.module("medperf_lite.home")

app = group("profile", "Profiles: each with its own login, to play several roles on one machine.")


@app.command("create", help="Create a profile (its own login); MedPerf's server options are not needed here.",
             context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def create(name: str = typer.Option(..., "-n", "--name")):
    homes.Home().create_profile(name)
    typer.echo(f"Profile '{name}' created")


@app.command("activate", help="Make a profile the active one (MedPerf has default, testauth and local).")
def activate(name: str):
    homes.Home().activate_profile(name)
    typer.echo(f"Profile '{name}' activated")


@app.command("ls", help="List the profiles as MedPerf does: '* ' before the active one, two spaces before the others "
                         "(each one's login: 'profile view' or 'auth status').")
def ls():
    home = homes.Home()
    active = home.profile()
    for name in home.profiles():
        typer.echo(f"{'* ' if name == active else '  '}{name}")


@app.command("delete", help="Delete a profile (not a reserved or the active one).")
def delete(name: str):
    homes.Home().delete_profile(name)
    typer.echo(f"Profile '{name}' deleted")


@app.command("view", help="Show a profile: its login and home.")
def view(name: str = typer.Argument(None, help="a profile; the active one when left out")):
    home = homes.Home()
    name = name or home.profile()
    profiles = home.profiles()
    if name not in profiles:
        raise MedperfError(f"profile '{name}' does not exist; see 'medperf profile ls'")
    typer.echo(yaml.safe_dump({name: {"user": profiles[name]["user"], "home": str(home.root)}}, sort_keys=False).rstrip())


@app.command("set", help="MedPerf sets server and certificate options here; medperf-lite has none to set.",
             context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def set_(ctx: typer.Context):
    raise MedperfError("medperf-lite profiles hold only a login; there is no server or certificate option to set")
