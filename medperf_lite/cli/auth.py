import typer

from medperf_lite import lazy
from medperf_lite.cli.common import group

home = lazy.module("medperf_lite.home")

app = group("auth", "Log in as a known user (impersonation, no password) or log out.")


@app.command()
def login(email: str = typer.Option(..., "-e", "--email", help="the user's e-mail")):
    home.Home().login(email)
    typer.echo(f"Logged in as {email}")


@app.command()
def logout():
    typer.echo(f"Logged out {home.Home().logout()}")


@app.command()
def status():
    typer.echo(home.Home().current_user() or "not logged in")
