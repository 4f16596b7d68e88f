"""Every setting of medperf-lite in one object, built once per process from the command
line's flags on top of the environment, and carried by the session.

| setting | variable | default |
|---|---|---|
| home | MEDPERF_LITE_HOME | ~/.medperf_lite |
| profile | MEDPERF_LITE_PROFILE | the active profile of the home's config |
| user | MEDPERF_LITE_USER | the profile's login |
| runner | MEDPERF_LITE_RUNNER (or `--runner`) | local |
| debug | MEDPERF_LITE_DEBUG | off (a traceback instead of "internal error") |
| verbose | MEDPERF_LITE_VERBOSE (or `-v`) | off: on a terminal, long-running commands show milestones, not the container |
| admin_timeout | MEDPERF_LITE_ADMIN_TIMEOUT | 120 s for submit_job, status, update_plan |
| close_timeout | MEDPERF_LITE_CLOSE_TIMEOUT | 300 s for close_event's stop_federation |
| stop_grace | MEDPERF_LITE_STOP_GRACE | 20 s a role has to exit on its own after its event closed, before it is stopped |
| run_id | MEDPERF_LITE_RUN_ID | none (set by the simulator, passed to tasks) |
| images | MEDPERF_LITE_IMAGES | ~/.cache/medperf-lite/images (the local runner's image store) |
| site_address | MEDPERF_LITE_SITE_ADDRESS | none (set by the simulator: this user's site address, sitenet) |
| docker_network | MEDPERF_LITE_DOCKER_NETWORK | none (set by the simulator: the run's Docker network, sitenet) |
| wheels | MEDPERF_LITE_WHEELS (`:`-separated) | pip's local find-links folders: wheels a Docker build copies in |
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from medperf_lite.errors import MedperfError

RUNNERS = ("local", "docker")
VARIABLES = {
    "home": "MEDPERF_LITE_HOME",
    "profile": "MEDPERF_LITE_PROFILE",
    "user": "MEDPERF_LITE_USER",
    "runner": "MEDPERF_LITE_RUNNER",
    "debug": "MEDPERF_LITE_DEBUG",
    "verbose": "MEDPERF_LITE_VERBOSE",
    "admin_timeout": "MEDPERF_LITE_ADMIN_TIMEOUT",
    "close_timeout": "MEDPERF_LITE_CLOSE_TIMEOUT",
    "stop_grace": "MEDPERF_LITE_STOP_GRACE",
    "run_id": "MEDPERF_LITE_RUN_ID",
    "images": "MEDPERF_LITE_IMAGES",
    "site_address": "MEDPERF_LITE_SITE_ADDRESS",
    "docker_network": "MEDPERF_LITE_DOCKER_NETWORK",
    "wheels": "MEDPERF_LITE_WHEELS",
}


@dataclass(frozen=True)
class Settings:
    home: Path
    profile: str | None = None
    user: str | None = None
    runner: str = "local"
    debug: bool = False
    verbose: bool = False
    admin_timeout: float = 120.0
    close_timeout: float = 300.0
    stop_grace: float = 20.0
    run_id: str | None = None
    images: Path = Path.home() / ".cache" / "medperf-lite" / "images"
    site_address: str | None = None
    docker_network: str | None = None
    wheels: tuple[Path, ...] = ()

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **flags) -> Settings:
        """The environment's MEDPERF_LITE_* variables, with the flags given (not None) on top."""
        env = os.environ if environ is None else environ
        raw = {name: env.get(variable) or None for name, variable in VARIABLES.items()}
        raw.update({name: value for name, value in flags.items() if value is not None})
        unknown = set(raw) - set(VARIABLES)
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        home = Path(raw["home"] or Path.home() / ".medperf_lite").expanduser().resolve()
        if home.exists() and not home.is_dir():
            raise MedperfError(f"MEDPERF_LITE_HOME {home} is not a folder")
        runner = raw["runner"] or "local"
        if runner not in RUNNERS:
            raise MedperfError(f"unknown runner '{runner}'; choose one of: {', '.join(RUNNERS)}")
        return cls(home=home, profile=raw["profile"], user=raw["user"], runner=runner,
                   debug=_flag(raw["debug"]), verbose=_flag(raw["verbose"]),
                   admin_timeout=_seconds(raw["admin_timeout"], "admin_timeout", cls.admin_timeout),
                   close_timeout=_seconds(raw["close_timeout"], "close_timeout", cls.close_timeout),
                   stop_grace=_seconds(raw["stop_grace"], "stop_grace", cls.stop_grace),
                   run_id=raw["run_id"],
                   images=Path(raw["images"] or cls.images).expanduser().resolve(),
                   site_address=raw["site_address"], docker_network=raw["docker_network"],
                   wheels=_wheel_folders(raw["wheels"], env))

    def but(self, **changes) -> Settings:
        """A copy with some settings changed (those given as None keep their value)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if "runner" in changes and changes["runner"] not in RUNNERS:
            raise MedperfError(f"unknown runner '{changes['runner']}'; choose one of: {', '.join(RUNNERS)}")
        return dataclasses.replace(self, **changes)


def _flag(value: object) -> bool:
    return str(value or "").lower() not in ("", "0", "false", "no")


def _wheel_folders(chosen, env: Mapping[str, str]) -> tuple[Path, ...]:
    """MEDPERF_LITE_WHEELS's folders; else the local folders among pip's own find-links (its
    PIP_FIND_LINKS, then its config files'), as the host's pip itself finds this machine's wheels."""
    if chosen is not None:
        return tuple(Path(p).expanduser() for p in (chosen if isinstance(chosen, tuple) else str(chosen).split(":")) if p)
    import configparser

    links = (env.get("PIP_FIND_LINKS") or "").split()
    files = [env.get("PIP_CONFIG_FILE") or "", "/etc/pip.conf", "/etc/xdg/pip/pip.conf",
             str(Path.home() / ".pip" / "pip.conf"), str(Path.home() / ".config" / "pip" / "pip.conf")]
    for name in files:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(name)
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        for section in ("global", "install"):
            for key in ("find-links", "find_links"):
                links += parser.get(section, key, fallback="").split()
    folders = [Path(link.removeprefix("file://")) for link in links if "://" not in link.removeprefix("file://")]
    return tuple(dict.fromkeys(folder for folder in folders if folder.is_dir()))


def _seconds(value, name: str, default: float) -> float:
    if value is None:
        return default
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise MedperfError(f"{VARIABLES[name]}={value!r} is not a positive number of seconds")
    return seconds


_current: Settings | None = None


def current() -> Settings:
    """This process's settings, built from the environment on first use."""
    global _current
    if _current is None:
        _current = Settings.load()
    return _current


def configure(**flags) -> Settings:
    """Sets this process's settings from the environment with the given flags on top (the
    CLI's root options call this once, before any command runs)."""
    global _current
    _current = Settings.load(**flags)
    return _current


MACHINE = ("images", "debug", "wheels")  # the settings of the machine itself, which a child run keeps


def child_environment(keep: tuple[str, ...] = MACHINE, **settings) -> dict[str, str]:
    """The environment of a child process that runs medperf-lite (a scenario's command, a
    plugin's CLI call): this process's own, without any MEDPERF_LITE_* setting but the ``keep``
    ones, with ``settings`` (by name: home, runner, user, ...) set for it."""
    kept = {VARIABLES[name] for name in keep}
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDPERF_LITE_") or k in kept}
    env.update(to_env(**settings))
    return env


def to_env(**settings) -> dict[str, str]:
    """Settings by name as the variables that set them (None: left out)."""
    unknown = set(settings) - set(VARIABLES)
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    return {VARIABLES[name]: ":".join(map(str, value)) if isinstance(value, tuple) else str(value)
            for name, value in settings.items() if value is not None}


def machine_pip_environment() -> dict[str, str]:
    """The machine's pip configuration in this process's environment (PIP_*) and its proxies,
    for a build's sandboxed pip; nothing of an image or a task."""
    return {k: v for k, v in os.environ.items() if k.startswith("PIP_") or k.lower().endswith("_proxy")}
