import json
from pathlib import Path

import typer

from medperf_lite.cli.common import group
from medperf_lite.errors import MedperfError

app = group("scenario", "Scenario files: check them, or print their JSON Schema for an editor.")


@app.command()
def check(files: list[Path] = typer.Argument(..., help="scenario files (or names of shipped scenarios)")):
    """Check scenario files against the step definitions; one line per file."""
    from medperf_lite.simulator import scenario

    failed = 0
    for path in files:
        try:
            loaded = scenario.load(str(path))
            typer.echo(f"ok: {path} ({len(loaded.steps)} steps, {len(loaded.checks)} checks)")
        except MedperfError as e:
            failed += 1
            typer.echo(f"invalid: {e.message}")
    if failed:
        raise MedperfError(f"{failed} of {len(files)} scenario files are not valid")


@app.command()
def schema():
    """Print the JSON Schema of scenario files."""
    from medperf_lite.simulator.schema import schema as scenario_schema

    typer.echo(json.dumps(scenario_schema(), indent=2))
