"""The scenario format: a YAML file of ordered steps, each run as a shell command.

A step is one of:
  run: COMMAND            run to completion (``input``: its stdin; ``user``: MEDPERF_LITE_USER;
                          ``expect``: exit code ("nonzero" allowed), ``output``/``error`` regexes)
  start: COMMAND, role: R start a long-running role in the background (its own process group and log)
  wait: {...}             wait for ``log`` (regex in ``role``'s log), ``port`` (listening),
                          ``state`` (a server-state check) or ``exit`` (``role`` ends with that code)
  kill: ROLE              kill a role's whole process group (``signal``: KILL by default)
  check: STATE-CHECK      assert a server-state check now
  include: PART           the steps of scenarios/parts/PART.yaml, inlined
A state check is ``{table, id, path, equals | matches | gte | in}``: ``path`` is dotted
into the record (``progress.rounds_done``). ``{{NAME}}`` placeholders (HOST, FL_PORT,
ADMIN_PORT, RUNNER, WORKDIR, the scenario's own ``vars`` and a faker e-mail for each name in
``fake_users``) are filled in per run; ``vars`` named MEDPERF_LITE_* are also set in every
step's environment (e.g. shorter failure bounds). ``retry: SECONDS`` on a run step reruns it
until its expectations hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from medperf_lite.errors import MedperfError
from medperf_lite.inputs import load_yaml, read_file
from medperf_lite.simulator import schema
from medperf_lite.world import package_data

SCENARIOS = package_data("scenarios")
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass
class Step:
    kind: str
    name: str
    spec: dict
    index: int


@dataclass
class Scenario:
    name: str
    description: str
    steps: list[Step]
    checks: list[dict] = field(default_factory=list)
    vars: dict = field(default_factory=dict)
    fake_users: list[str] = field(default_factory=list)
    tutorial_init: bool = True
    images: int | None = None
    path: Path | None = None
    tolerate: list[str] = field(default_factory=list)  # known, harmless errors in roles' logs (regexes)


def find(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    for candidate in (SCENARIOS / f"{name_or_path}.yaml", SCENARIOS / name_or_path):
        if candidate.is_file():
            return candidate
    known = ", ".join(sorted(p.stem for p in SCENARIOS.glob("*.yaml")))
    raise MedperfError(f"no scenario '{name_or_path}'; known scenarios: {known}")


def read(path: Path) -> object:
    return load_yaml(read_file(path, f"scenario {path}"), f"scenario {path}")


def load(name_or_path: str) -> Scenario:
    """Loads a scenario, checked against the typed step definitions (simulator/schema.py)."""
    path = find(name_or_path)
    data = schema.check_file(read(path), str(path))
    steps = []
    for i, (raw, source) in enumerate(_expand(data.steps, path), start=1):
        kind, spec = schema.check_step(raw, source, i)
        name = spec.get("name") or (spec[kind] if isinstance(spec[kind], str) else kind)
        steps.append(Step(kind, str(name).strip(), spec, i))
    checks = [c.model_dump(by_alias=True, exclude_unset=True) for c in data.checks]
    return Scenario(name=data.name or path.stem, description=data.description, steps=steps, checks=checks,
                    vars=data.vars, fake_users=data.fake_users, tutorial_init=data.tutorial_init, images=data.images,
                    path=path, tolerate=data.tolerate)


def _expand(raw_steps: list, path: Path, depth: int = 0) -> list[tuple[object, str]]:
    """Inlines ``include: PART`` steps with the steps of ``scenarios/parts/PART.yaml``; each
    step comes with the file it is written in, for messages."""
    steps = []
    for raw in raw_steps:
        if isinstance(raw, dict) and set(raw) == {"include"}:
            name = raw["include"]
            part = SCENARIOS / "parts" / f"{name}.yaml"
            if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,100}", name) or depth > 3 \
                    or not part.is_file():
                raise MedperfError(f"scenario {path}: cannot include '{str(name)[:100]}' (a part of scenarios/parts, "
                                   "by its name)")
            data = read(part)
            if not isinstance(data, dict) or set(data) != {"steps"} or not isinstance(data["steps"], list):
                raise MedperfError(f"scenario part {part} must hold only a 'steps' list")
            steps += _expand(data["steps"], part, depth + 1)
        else:
            steps.append((raw, str(path)))
    return steps


def fill(value, variables: dict):
    """Fills ``{{NAME}}`` placeholders in every string of ``value``."""
    if isinstance(value, str):
        def sub(match):
            if match.group(1) not in variables:
                raise MedperfError(f"unknown placeholder {{{{{match.group(1)}}}}}")
            return str(variables[match.group(1)])
        return PLACEHOLDER.sub(sub, value)
    if isinstance(value, list):
        return [fill(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, variables) for k, v in value.items()}
    return value


TUTORIAL_CONTAINERS = ("prep", "trainer", "trainadmin")  # medperf_tutorial/containers/<name>


@dataclass
class Overrides:
    """Changes to a scenario for one run: variables (``{{NAME}}`` in its steps, or
    MEDPERF_LITE_* settings for its commands) and container folders that replace the
    tutorial's own (``prep``, ``trainer``, ``trainadmin``) once the workspace is laid out."""

    vars: dict[str, object] = field(default_factory=dict)
    containers: dict[str, Path] = field(default_factory=dict)
    source: Path | None = None  # `tutorial init --containers`: containers and training config in MedPerf's layout

    def check(self) -> None:
        for name, folder in self.containers.items():
            if name not in TUTORIAL_CONTAINERS:
                raise MedperfError(f"unknown tutorial container '{name}'; choose one of: {', '.join(TUTORIAL_CONTAINERS)}")
            if not (Path(folder) / "container_config.yaml").is_file():
                raise MedperfError(f"container folder {folder} has no container_config.yaml")
