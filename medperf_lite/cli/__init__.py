"""The `medperf` (alias `medperf-lite`) command line: thin typer groups, one per entity."""

from __future__ import annotations

import os
import sys

import click
import typer

from medperf_lite import settings
from medperf_lite.cli import (
    aggregator,
    association,
    auth,
    ca,
    certificate,
    container,
    dataset,
    event,
    profile,
    training,
    users,
)
from medperf_lite.errors import Forbidden, MedperfError
from medperf_lite.journal import RECORDER

app = typer.Typer(name="medperf", help="medperf-lite: MedPerf's federated-training workflow on one host.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
for module in (auth, container, training, ca, aggregator, dataset, association, event, profile, users, certificate):
    app.add_typer(module.app)


@app.callback()
def root(runner: str = typer.Option(None, "--runner", help="container runner for this command: local or docker")):
    settings.configure(runner=runner)


def _extras() -> None:
    from medperf_lite.cli import image, scenario, simulate, tutorial

    app.add_typer(image.app)
    app.add_typer(tutorial.app)
    app.add_typer(scenario.app)
    app.command("simulate")(simulate.simulate)
    app.command("watch")(simulate.watch)


# the commands after which MedPerf prints "✅ Done!" (its cli/medperf/commands/*/); scripts may look for it
DONE = {"training submit", "training set_plan", "training start_event", "training submit_job",
        "training get_experiment_status", "training update_plan", "training close_event", "training cancel_event",
        "aggregator submit", "aggregator associate", "aggregator start", "dataset submit", "dataset prepare",
        "dataset set_operational", "dataset associate", "dataset train", "container submit", "container associate",
        "ca submit", "ca associate", "association approve", "association reject", "training set_aggregator",
        "certificate get_client_certificate", "certificate get_server_certificate",
        "certificate submit_client_certificate", "certificate delete_client_certificate",
        "certificate check_client_certificate"}
TO_STDERR = {"training get_experiment_status"}  # its output is YAML a script parses


def said_done(argv: list[str]) -> None:
    """MedPerf's closing line of a command that did its work (not for --help)."""
    words = [a for a in argv if not a.startswith("-")]
    command = " ".join(words[:2])
    if command in DONE and not any(a in ("--help", "-h") for a in argv):
        typer.echo("✅ Done!", err=command in TO_STDERR)


ABORTS = (typer.Abort,)
EXITS = (typer.Exit,)
USAGE_ERRORS = (click.exceptions.ClickException,)


def one_line(message: str) -> str:
    """A message is one line whatever a user typed into it: control characters are escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def _debug() -> bool:
    current = _settings()
    return current is not None and current.debug


def _settings() -> settings.Settings | None:
    try:
        return settings.current()
    except MedperfError:  # a bad setting: the command itself says so
        return None


def main() -> None:
    _extras()
    RECORDER.begin(sys.argv[1:], _settings())
    try:
        _main()
    except SystemExit as e:
        RECORDER.end(e.code if isinstance(e.code, int) else 1)
        raise
    RECORDER.end(0)


def _main() -> None:
    try:
        if len(sys.argv) == 1:  # no command at all: the usage, as a usage error
            app(["--help"], standalone_mode=False)
            sys.exit(2)
        code = app(standalone_mode=False)  # click returns a typer.Exit's code here instead of exiting
        if isinstance(code, int) and code:
            sys.exit(code)
        said_done(sys.argv[1:])
    except MedperfError as e:
        message = one_line(e.message)
        if isinstance(e, Forbidden) and RECORDER.user and RECORDER.user not in message:
            message += f" (you are {RECORDER.user})"  # a refusal says who asked
        RECORDER.error = message
        typer.echo(f"Error: {message}", err=True)
        sys.exit(e.exit_code)
    except ABORTS:
        typer.echo("Error: aborted", err=True)
        sys.exit(130)
    except EXITS as e:
        sys.exit(e.exit_code)
    except USAGE_ERRORS as e:  # a usage error is the command's usage and exit 2
        e.show()
        sys.exit(e.exit_code)
    except BrokenPipeError:  # the reader went away (`medperf ... | head -1`): as a shell tool, quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
    except Exception as e:  # a bug, not a user mistake: one line, the traceback on request
        if _debug():
            raise
        typer.echo(f"Error: internal error: {type(e).__name__}: {e} (set MEDPERF_LITE_DEBUG=1 for details)", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("Error: interrupted", err=True)
        sys.exit(130)
