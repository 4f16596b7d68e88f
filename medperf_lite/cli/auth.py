import typer

from medperf_lite.cli import common
from medperf_lite.cli.common import group

app = group("auth", "Log in as a known user (impersonation, no password) or log out.")


@app.command(help='Impersonate a known user by e-mail (MedPerf logs in with a password; here nobody has one).')
def login(email: str = typer.Option(..., "-e", "--email", help="the user's e-mail")):
    common.home().login(email)
    typer.echo(f"Logged in as {email}")


@app.command(help='Log out of the active profile.')
def logout():
    typer.echo(f"Logged out {common.home().logout()}")


@app.command(help='Print the e-mail the active profile is logged in as.')
def status():
    typer.echo(common.home().current_user() or "not logged in")
