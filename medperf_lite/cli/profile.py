import typer
import yaml

from medperf_lite import lazy
from medperf_lite.cli import common
from medperf_lite.cli.common import group
from medperf_lite.errors import MedperfError

homes = lazy.module("medperf_lite.home")

app = group("profile", "Profiles: each with its own login, to play several roles on one machine.")


@app.command("create", help="Create a profile (its own login); MedPerf's server options are not needed here.",
             context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def create(name: str = typer.Option(..., "-n", "--name")):
    common.home().create_profile(name)
    typer.echo(f"Profile '{name}' created")


@app.command("activate", help="Make a profile the active one (MedPerf has default, testauth and local).")
def activate(name: str):
    common.home().activate_profile(name)
    typer.echo(f"Profile '{name}' activated")


@app.command("ls", help="List the profiles as MedPerf does: '* ' before the active one, two spaces before the others "
                         "(each one's login: 'profile view' or 'auth status').")
def ls():
    home = common.home()
    active = home.profile()
    for name in home.profiles():
        typer.echo(f"{'* ' if name == active else '  '}{name}")


@app.command("delete", help="Delete a profile (not a reserved or the active one).")
def delete(name: str):
    common.home().delete_profile(name)
    typer.echo(f"Profile '{name}' deleted")


@app.command("view", help="Show a profile: its login, its home and the MedPerf flow the home follows (with MedPerf "
                         "main's, the CA it trusts).")
def view(name: str = typer.Argument(None, help="a profile; the active one when left out")):
    home = common.home()
    name = name or home.profile()
    profiles = home.profiles()
    if name not in profiles:
        raise MedperfError(f"profile '{name}' does not exist; see 'medperf profile ls'")
    shown = {"user": profiles[name]["user"], "home": str(home.root), "flow": home.flow}
    if home.flow == "flower":
        shown.update({key: home.ca_setting(key, name) for key in homes.CA_SETTINGS})
    typer.echo(yaml.safe_dump({name: shown}, sort_keys=False).rstrip())


@app.command("set", help="Set the active profile's certificate_authority_id and certificate_authority_fingerprint (MedPerf "
                         "main's CA options); medperf-lite has no server option to set.",
             context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def set_(ctx: typer.Context):
    values, args = {}, list(ctx.args)
    while args:
        flag = args.pop(0)
        key, _, given = flag.lstrip("-").partition("=")
        key = key.replace("-", "_")
        if key not in homes.CA_SETTINGS:
            raise MedperfError(f"medperf-lite profiles have no option {flag.split('=')[0]}: they hold a login and MedPerf "
                               f"main's CA options (--{' --'.join(homes.CA_SETTINGS)}); there is no server option to set")
        value = given or (args.pop(0) if args else "")
        if not value:
            raise MedperfError(f"--{key} needs a value")
        if key == "certificate_authority_id":
            if not value.isdigit():
                raise MedperfError(f"--certificate_authority_id takes a CA's ID, not {value!r}")
            value = int(value)
        values[key] = value
    if not values:
        raise MedperfError(f"give --{' or --'.join(homes.CA_SETTINGS)}")
    home = common.home()
    home.set_ca_settings(values)
    typer.echo(f"Profile '{home.profile()}' updated: " + ", ".join(f"{k}={v}" for k, v in values.items()))
