import typer

from medperf_lite import lazy
from medperf_lite.cli import common
from medperf_lite.cli.common import group

rules = lazy.module("medperf_lite.rules")

app = group("users", "Impersonable users of the simulated server.")


@app.command(help="Register another user who can be impersonated by e-mail (medperf-lite's own).")
def add(email: str):
    uid = common.home().store.run(rules.add_user, None, email).value
    typer.echo(f"User {email} added with ID {uid}")


@app.command("ls", help='List the known users.')
def ls():
    for uid, user in sorted(common.home().store.state()["users"].items()):
        typer.echo(f"{uid}  {user['email']}")
