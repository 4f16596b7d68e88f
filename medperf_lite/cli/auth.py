import typer

from medperf_lite.cli.common import group
from medperf_lite.home import Home

app = group("auth", "Log in as a known user (impersonation, no password) or log out.")


@app.command()
def login(email: str = typer.Option(..., "-e", "--email", help="the user's e-mail")):
    Home().login(email)
    typer.echo(f"Logged in as {email}")


@app.command()
def logout():
    typer.echo(f"Logged out {Home().logout()}")


@app.command()
def status():
    typer.echo(Home().current_user() or "not logged in")
