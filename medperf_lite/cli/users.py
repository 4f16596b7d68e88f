import typer

from medperf_lite import rules
from medperf_lite.cli.common import group
from medperf_lite.home import Home

app = group("users", "Impersonable users of the simulated server.")


@app.command()
def add(email: str):
    uid = Home().store.run(rules.add_user, None, email).value
    typer.echo(f"User {email} added with ID {uid}")


@app.command("ls")
def ls():
    for uid, user in sorted(Home().store.state()["users"].items()):
        typer.echo(f"{uid}  {user['email']}")
