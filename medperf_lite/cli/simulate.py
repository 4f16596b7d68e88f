from pathlib import Path

import typer


def simulate(
    scenario: str = typer.Argument("tutorial", help="a scenario name in scenarios/ or a path"),
    runner: str = typer.Option(None, "--runner", help="local or docker [default: MEDPERF_LITE_RUNNER or local]"),
    keep: bool = typer.Option(False, "--keep", help="keep the work folder"),
    junit: Path = typer.Option(None, "--junit", help="write a JUnit XML report here"),
    workdir: Path = typer.Option(None, "--workdir", help="work folder (default: a new temporary one)"),
    timings: str = typer.Option("fast", "--timings", help="fast (medperf-lite's) or nvflare (NVFlare's defaults)"),
    containers: Path = typer.Option(None, "--containers", help="play with the containers and training config found "
                                    "under this folder in MedPerf's layout (their images are built first)"),
):
    """Play every role of a scenario on this host and report."""
    from medperf_lite import settings
    from medperf_lite.simulator.engine import run_cli

    run_cli(scenario, runner=settings.current().but(runner=runner).runner, keep=keep, junit=junit, workdir=workdir,
            timings=timings, containers=containers)
