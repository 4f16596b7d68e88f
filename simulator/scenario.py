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
  repeat: owners          the block's ``steps`` once per data owner (``from``: the first owner's
                          number, 1 by default; ``together: true``: the owners' blocks of run
                          steps run side by side, as real data owners each act on their own),
                          with {{K}} (the owner's number), {{SITE}} (col<K>), {{EMAIL}} (the
                          owner's e-mail: the tutorial's two, then faker identities) and
                          {{OWNER_DATA}} (their raw data: {{DATA<K>}})
A state check is ``{table, id, path, equals | matches | gte | in}``: ``path`` is dotted
into the record (``progress.rounds_done``). ``{{NAME}}`` placeholders are filled in per run:
HOST, FL_PORT, ADMIN_PORT, RUNNER, WORKDIR, PLAN, PARTICIPANTS; OWNERS, the number of data
owners (``--data-owners N``, 2 by default, the tutorial's); DATA<K>, owner K's raw data folder
(by default DATA/col<K>, where DATA, a folder of every owner's data by site, is by default the
tutorial's medperf_tutorial); ROUNDS, the rounds the plan on the
server asks for (once one is set); the scenario's own ``vars``, and a faker e-mail for each
name in ``fake_users``. A value that is one placeholder alone keeps its type (``equals:
"{{ROUNDS}}"`` compares a number). ``vars`` named MEDPERF_LITE_* are also set in every step's
environment (e.g. shorter failure bounds). ``retry: SECONDS`` on a run step reruns it until
its expectations hold.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from medperf_lite.commands import tutorial
from medperf_lite.errors import MedperfError
from medperf_lite.files import FIXTURES, package_data
from medperf_lite.inputs import load_yaml, read_file
from medperf_lite.simulator import schema

SCENARIOS = package_data("scenarios")
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
OWNER_VARS = ("K", "SITE", "EMAIL", "OWNER_DATA")  # a repeat block's own placeholders


@dataclass
class Step:
    kind: str
    name: str
    spec: dict
    index: int
    where: str = ""  # FILE:LINE of the step, for messages
    lane: int | None = None  # the data owner of a repeat block that runs side by side ...
    group: int | None = None  # ... with the other owners' blocks of the same group


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
    flow: str = "nvflare"  # the MedPerf flow its home follows (tutorial init --flow)
    tolerate: list[str] = field(default_factory=list)  # known, harmless errors in roles' logs (regexes)
    owners: int = tutorial.DEFAULT_OWNERS  # data owners, when its steps repeat per owner
    repeats: bool = False  # whether any block repeats per data owner (--data-owners applies)
    with_their_fl: str | None = None  # played instead when the FL container is not ours (Overrides.their_fl)


def find(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    for candidate in (SCENARIOS / f"{name_or_path}.yaml", SCENARIOS / name_or_path):
        if candidate.is_file():
            return candidate
    known = ", ".join(sorted(p.stem for p in SCENARIOS.glob("*.yaml")))
    raise MedperfError(f"no scenario '{name_or_path}'; known scenarios: {known}")


Lines = list[tuple[int, "Lines"]]  # each step's line, and its block's steps' lines


def read(path: Path) -> tuple[object, Lines]:
    """A scenario file's data, and the line of each of its steps."""
    text = read_file(path, f"scenario {path}")
    data = load_yaml(text, f"scenario {path}")
    return data, _step_lines(yaml.compose(text, Loader=yaml.SafeLoader))  # parsed once already: bounded


def _step_lines(node: object) -> Lines:
    """The line of each item of a mapping node's ``steps`` list, with its own steps' lines."""
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if key.value == "steps" and isinstance(value, yaml.SequenceNode):
            return [(item.start_mark.line + 1, _step_lines(item)) for item in value.value]
    return []


def owners_of(variables: dict, default: object) -> int:
    value = variables.get("OWNERS", default)
    try:
        owners = int(value)
    except (TypeError, ValueError):
        owners = 0
    if str(owners) != str(value).strip() or not 1 <= owners <= tutorial.MAX_OWNERS:
        raise MedperfError(f"the number of data owners (OWNERS, --data-owners) takes 1 to {tutorial.MAX_OWNERS}, "
                           f"not '{str(value)[:40]}'")
    return owners


def load(name_or_path: str, variables: dict | None = None) -> Scenario:
    """Loads a scenario, checked against the typed step definitions (simulator/schema.py);
    ``variables`` (the run's own) may set OWNERS, the data owners its repeat blocks run for."""
    path = find(name_or_path)
    raw, lines = read(path)
    data = schema.check_file(raw, str(path))
    if data.with_their_fl is not None and not (path.parent / f"{data.with_their_fl}.yaml").is_file():
        raise MedperfError(f"scenario {path}: with_their_fl names {data.with_their_fl}.yaml, which is not beside it")
    owners = owners_of(variables or {}, data.vars.get("OWNERS", tutorial.DEFAULT_OWNERS))
    expander = _Expander(tutorial.owners(owners))
    steps = []
    for i, (raw_step, where, owner, group) in enumerate(expander.expand(data.steps, path, lines), start=1):
        kind, spec = schema.check_step(raw_step, where)
        name = spec.get("name") or (spec[kind] if isinstance(spec[kind], str) else kind)
        steps.append(Step(kind, str(name).strip(), spec, i, where, owner if group else None, group))
    checks = [c.model_dump(by_alias=True, exclude_unset=True) for c in data.checks]
    return Scenario(name=data.name or path.stem, description=data.description, steps=steps, checks=checks,
                    vars=data.vars, fake_users=data.fake_users, tutorial_init=data.tutorial_init, images=data.images,
                    path=path, tolerate=data.tolerate, owners=owners, repeats=expander.repeats, flow=data.flow,
                    with_their_fl=data.with_their_fl)


@dataclass
class _Expander:
    """Inlines ``include: PART`` steps (the steps of ``scenarios/parts/PART.yaml``) and repeats
    ``repeat: owners`` blocks per data owner; each step comes with where it is written
    (FILE:LINE, step N of that file), its owner and its group of side-by-side blocks."""

    sites: dict[str, str]  # site -> e-mail, in the owners' order
    repeats: bool = False
    groups: int = 0

    def expand(self, raw_steps: list, path: Path, lines: Lines, depth: int = 0, owner: int | None = None,
               group: int | None = None, within: str = "") -> list[tuple[object, str, int | None, int | None]]:
        steps = []
        for n, raw in enumerate(raw_steps, start=1):
            line, inner = lines[n - 1] if n - 1 < len(lines) else (None, [])
            where = f"{path}{f':{line}' if line else ''}, step {n}{within}"
            if isinstance(raw, dict) and "include" in raw and set(raw) == {"include"}:
                steps += self._include(raw["include"], path, depth, owner, group)
            elif isinstance(raw, dict) and "repeat" in raw:
                steps += self._repeat(raw, path, where, inner, depth, owner)
            else:
                steps.append((raw, where, owner, group))
        return steps

    def _include(self, name: object, path: Path, depth: int, owner, group) -> list:
        part = SCENARIOS / "parts" / f"{name}.yaml"
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,100}", name) or depth > 3 \
                or not part.is_file():
            raise MedperfError(f"scenario {path}: cannot include '{str(name)[:100]}' (a part of scenarios/parts, "
                               "by its name)")
        data, lines = read(part)
        if not isinstance(data, dict) or set(data) != {"steps"} or not isinstance(data["steps"], list):
            raise MedperfError(f"scenario part {part} must hold only a 'steps' list")
        return self.expand(data["steps"], part, lines, depth + 1, owner, group)

    def _repeat(self, raw: dict, path: Path, where: str, lines: Lines, depth: int, owner: int | None) -> list:
        block = schema.check_repeat(raw, where)
        if owner is not None:
            raise MedperfError(f"scenario {where} (repeat): a repeat block inside another one")
        self.repeats = True
        group = None
        if block.together:
            self.groups += 1
            group = self.groups
        steps = []
        for k, (site, email) in enumerate(self.sites.items(), start=1):
            if k < block.from_:
                continue
            own = {"K": k, "SITE": site, "EMAIL": email, "OWNER_DATA": f"{{{{DATA{k}}}}}"}
            for raw_step, step_where, _, _ in self.expand(block.steps, path, lines, depth + 1, k, group,
                                                          f" of the repeat block (owner {k})"):
                steps.append((fill(raw_step, own, partial=True), step_where, k, group))
        if group is not None and any(not isinstance(s[0], dict) or "run" not in s[0] for s in steps):
            raise MedperfError(f"scenario {where} (repeat): a block that runs 'together' holds run steps only")
        return steps


def batches(steps: list[Step], together: bool = True) -> list[Step | list[Step]]:
    """The steps in the order they run: a group of side-by-side owners' blocks as one list
    (``together``: False runs them one after another, as when a person follows the run)."""
    found: list[Step | list[Step]] = []
    for step in steps:
        if together and step.group is not None and found and isinstance(found[-1], list) \
                and found[-1][0].group == step.group:
            found[-1].append(step)
        else:
            found.append([step] if together and step.group is not None else step)
    return found


def fill(value, variables: dict, partial: bool = False, derive: Callable[[str], object] | None = None):
    """Fills ``{{NAME}}`` placeholders in every string of ``value``; a string that is one
    placeholder alone becomes the variable's value, with its type. ``partial``: placeholders
    not in ``variables`` stay as they are; ``derive(NAME)`` gives a value the run computes
    (ROUNDS), asked only when ``variables`` has none."""
    if isinstance(value, str):
        def lookup(name: str):
            if name in variables:
                return variables[name]
            if derive is not None:
                return derive(name)
            raise MedperfError(f"unknown placeholder {{{{{name}}}}}")

        whole = PLACEHOLDER.fullmatch(value)
        if whole and not (partial and whole.group(1) not in variables):
            return lookup(whole.group(1))
        return PLACEHOLDER.sub(lambda m: m.group(0) if partial and m.group(1) not in variables
                               else str(lookup(m.group(1))), value)
    if isinstance(value, list):
        return [fill(v, variables, partial, derive) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, variables, partial, derive) for k, v in value.items()}
    return value


def fill_name(name: str, variables: dict, derive: Callable[[str], object] | None = None) -> str:
    """A step's name with what its placeholders hold now (one that cannot be filled stays)."""
    def sub(match):
        try:
            return str(fill(match.group(0), variables, derive=derive))
        except MedperfError:
            return match.group(0)
    return PLACEHOLDER.sub(sub, name)


# medperf_tutorial/containers/<name>: the NVFlare flow's, then MedPerf main's (prep is both's)
TUTORIAL_CONTAINERS = ("prep", "trainer", "trainadmin", "fl", "fl_admin", "ca")


def _ours(folder: Path) -> bool:
    """A container folder whose config names one of medperf-lite's images (medperf-lite/NAME)."""
    try:
        image = (yaml.safe_load((folder / "container_config.yaml").read_text()) or {}).get("image")
    except (OSError, yaml.YAMLError, AttributeError):
        return False
    return isinstance(image, str) and image.startswith("medperf-lite/")


@dataclass
class Overrides:
    """Changes to a scenario for one run: variables (``{{NAME}}`` in its steps, or
    MEDPERF_LITE_* settings for its commands) and container folders that replace the
    tutorial's own (``prep``, ``trainer``, ``trainadmin``) once the workspace is laid out."""

    vars: dict[str, object] = field(default_factory=dict)
    containers: dict[str, Path] = field(default_factory=dict)
    source: Path | None = None  # `tutorial init --containers`: containers and training config in MedPerf's layout
    images: int | None = None  # toy images per data owner (the scenario's, else the tutorial's 300)
    network: str | None = None  # "sites" (a network namespace per user) or "host"; default: sites where possible

    def their_fl(self, flow: str) -> Path | None:
        """The run's FL container folder when it is not one of medperf-lite's own (found under
        ``source`` or given for the role), else None. Ours is a fixture, or a copy of one
        (a changed fixture, as fault tests make): its image is named medperf-lite/..."""
        role = "fl" if flow == "flower" else "trainer"
        folder = self.containers.get(role)
        if folder is None and self.source is not None:
            found = tutorial.find_main_containers if flow == "flower" else tutorial.find_containers
            folder = found(self.source)[0][role]
        if folder is None or Path(folder).resolve().is_relative_to(FIXTURES.resolve()) or _ours(Path(folder)):
            return None
        return Path(folder).resolve()

    def check(self) -> None:
        from medperf_lite.containers.sitenet import MODES

        if self.network is not None and self.network not in MODES:
            raise MedperfError(f"unknown network mode '{self.network}'; choose one of: {', '.join(MODES)}")
        for name, folder in self.containers.items():
            if name not in TUTORIAL_CONTAINERS:
                raise MedperfError(f"unknown tutorial container '{name}'; choose one of: {', '.join(TUTORIAL_CONTAINERS)}")
            if not (Path(folder) / "container_config.yaml").is_file():
                raise MedperfError(f"container folder {folder} has no container_config.yaml")
