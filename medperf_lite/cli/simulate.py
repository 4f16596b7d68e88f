import re
import time
from pathlib import Path

import typer

from medperf_lite.errors import MedperfError


def simulate(
    scenario: str = typer.Argument("tutorial", help="a scenario name in scenarios/ or a path"),
    runner: str = typer.Option(None, "--runner", help="local or docker [default: MEDPERF_LITE_RUNNER or local]"),
    keep: bool = typer.Option(False, "--keep", help="keep the work folder"),
    junit: Path = typer.Option(None, "--junit", help="write a JUnit XML report here"),
    workdir: Path = typer.Option(None, "--workdir", help="work folder (default: a new temporary one)"),
    timings: str = typer.Option("fast", "--timings", help="fast (medperf-lite's) or nvflare (NVFlare's defaults)"),
    containers: Path = typer.Option(None, "--containers", help="play with the containers and training config found "
                                    "under this folder in MedPerf's layout (their images are built first)"),
    guide: bool = typer.Option(False, "--guide", help="explain each step and who runs it, wait for Enter, run it, "
                               "show what changed on the server"),
    auto: float = typer.Option(None, "--auto", help="with --guide: go on after this many seconds instead of Enter"),
    play: str = typer.Option(None, "--play", help="play this user's steps yourself, in another terminal; the "
                             "simulator plays every other role"),
    play_timeout: float = typer.Option(600.0, "--play-timeout", help="seconds to wait for each of your steps"),
    round_pause: float = typer.Option(0.0, "--round-pause", help="seconds between rounds, a class's time to look"),
    web: bool = typer.Option(False, "--web", help="serve a live view of the run on 127.0.0.1"),
    web_port: int = typer.Option(0, "--web-port", help="the live view's port (default: a free one)"),
    var: list[str] = typer.Option([], "--var", help="KEY=VALUE: set a scenario variable ({{KEY}} in its steps), "
                                  "as the pytest plugin's vars= does; repeatable (e.g. DATA1=FOLDER: owner 1's raw "
                                  "data; DATA=FOLDER: a folder of every owner's, by site: col1, col2, ...; ROUNDS=N)"),
    data_owners: int = typer.Option(None, "--data-owners", help="play with N data owners, each with their own user, "
                                    "toy data, site and training node [default: the tutorial's 2]"),
    network: str = typer.Option(None, "--network", help="sites: each user in a network namespace of their own, on a "
                                "bridge of the run's (Docker: a network of the run's); host: every user on this host's "
                                "loopback [default: sites (local runner: where root); host when a person follows "
                                "the run: --guide, --play, --web]"),
):
    """Play every role of a scenario on this host and report."""
    from medperf_lite import settings
    from medperf_lite.simulator.engine import Teaching, run_cli

    if auto is not None and (auto < 0 or not guide):
        raise MedperfError("--auto takes seconds >= 0 and goes with --guide")
    if play_timeout <= 0:
        raise MedperfError("--play-timeout takes seconds > 0")
    teaching = Teaching(guide=guide, auto=auto, play=play, play_timeout=play_timeout, round_pause=round_pause)
    if not 0 <= web_port < 65536:
        raise MedperfError("--web-port takes a port number, or 0 for a free one")
    variables = {}
    for item in var:
        key, eq, value = item.partition("=")
        if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", key):
            raise MedperfError(f"--var takes KEY=VALUE (a variable name, then its value), not '{item[:100]}'")
        variables[key] = _typed(value)
    run_cli(scenario, runner=settings.current().but(runner=runner).runner, keep=keep, junit=junit, workdir=workdir,
            timings=timings, containers=containers, teaching=teaching, web=web_port if web else None, variables=variables,
            data_owners=data_owners, network=network)


def _typed(value: str) -> object:
    """A --var value as a number or true/false when it reads as one (a check compares it so), else the text."""
    if re.fullmatch(r"-?\d{1,18}", value):
        return int(value)
    if re.fullmatch(r"-?\d{1,18}\.\d{1,18}", value):
        return float(value)
    return {"true": True, "false": False}.get(value, value)


def watch(
    port: int = typer.Option(0, "--port", help="port on 127.0.0.1 (default: a free one)"),
    seconds: float = typer.Option(None, "--seconds", help="stop after this long (default: Ctrl-C)"),
):
    """Serve a live view of the federation in this home (MEDPERF_LITE_HOME), run by hand."""
    from medperf_lite import settings
    from medperf_lite.simulator.live import watch as serve

    if not 0 <= port < 65536:
        raise MedperfError("--port takes a port number, or 0 for a free one")
    home = settings.current().home
    if home.exists() and not home.is_dir():
        raise MedperfError(f"MEDPERF_LITE_HOME {home} is not a folder")
    started = time.monotonic()
    if not home.is_dir():  # started before the first command: the page comes once the home does
        typer.echo(f"waiting for a medperf-lite home at {home} (set MEDPERF_LITE_HOME; Ctrl-C to stop)")
        try:
            while not home.is_dir():
                if seconds is not None and time.monotonic() - started > seconds:
                    raise MedperfError(f"no medperf-lite home appeared at {home} within {seconds:.0f} s")
                time.sleep(0.5)
        except KeyboardInterrupt:
            return
    left = None if seconds is None else max(0.0, seconds - (time.monotonic() - started))
    serve(home, port, left, echo=lambda line: typer.echo(line))
