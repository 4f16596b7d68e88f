"""What every CLI group shares: the session, output formats, the runner choice."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from medperf_lite import lazy, settings
from medperf_lite.entities import ENTITIES

if TYPE_CHECKING:
    from medperf_lite.commands import Session
    from medperf_lite.home import Home

listing = lazy.module("medperf_lite.commands.listing")

FORMAT = typer.Option("table", "--format", help="table, yaml or json")
MINE = typer.Option(False, "--mine", help="only what you own")
YES = typer.Option(False, "-y", "--yes", help="answer yes to the confirmation prompt")
SHOW_PLAN = typer.Option(False, "--show-plan", help="print the whole plan before the question (otherwise its summary)")
RUNNER = typer.Option(None, "--runner", help="local (default) or docker; or MEDPERF_LITE_RUNNER")
VERBOSE = typer.Option(False, "-v", "--verbose", help="show the container's own output (the FL framework's logs) "
                       "live, not only in its log file; or MEDPERF_LITE_VERBOSE=1")


def home(runner: str | None = None) -> Home:
    """The home of this process's settings (a command's own --runner on top): built here, at
    the CLI's entry, and carried down from it."""
    from medperf_lite.home import Home

    return Home(settings.current().but(runner=runner))


def session(runner: str | None = None) -> Session:
    """The logged-in user's session, with this process's settings (a command's own --runner on top)."""
    from medperf_lite.commands import Session

    return Session.current(home(runner))


def group(name: str, help: str) -> typer.Typer:
    """A command group; called without a command it prints its help and exits 2 (a usage error)."""
    app = typer.Typer(name=name, help=help, add_completion=False, invoke_without_command=True)

    @app.callback()
    def usage(ctx: typer.Context) -> None:
        if ctx.invoked_subcommand is None:
            typer.echo(ctx.get_help())
            raise typer.Exit(2)

    return app


def add_ls_view(app: typer.Typer, entity: str) -> None:
    """Adds `ls` and `view` for an entity to its group."""
    _, what, columns = ENTITIES[entity]

    @app.command("ls", help=f"List {what}s: MedPerf's table ({', '.join(columns)}), or every field with "
                            "--format yaml|json.")
    def ls(mine: bool = MINE, fmt: str = FORMAT):
        if fmt == "table":
            typer.echo(listing.entity_table(session(), entity, mine))
        else:
            typer.echo(listing.render(listing.records(session(), entity, mine), fmt))

    @app.command("view", help=f"Show one {what}.")
    def show(entity_id: int = typer.Argument(..., help=f"the {what}'s ID"), fmt: str = typer.Option(
            "yaml", "--format", help="yaml, json or table")):
        typer.echo(listing.render(listing.view(session(), entity, entity_id), fmt))
