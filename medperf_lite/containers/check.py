"""A container config read against MedPerf's training flow, for what MedPerf itself would only
find when the task runs: keys MedPerf does not read (``output_volume:``), tasks the flow never
runs (``sanity_chek``), volumes it never offers to a task (``data_pth``), and a role's missing
tasks. Each finding names the file, the line and the closest valid name.

MedPerf accepts any config at submit, so these are warnings at ``container submit``; ``image
build --strict`` makes them errors; a missing task stays an error when it is run.
"""

from __future__ import annotations

import difflib

import yaml

from medperf_lite.containers.contract import ALL_STEPS, ALWAYS_OFFERED

TOP_KEYS = ("container_type", "image", "tasks", "local")
TASK_KEYS = ("run_args", "input_volumes", "output_volumes")
VOLUME_KEYS = ("mount_path", "type")
TASKS = tuple(dict.fromkeys(s.task for s in ALL_STEPS))  # both flows' (MedPerf main's CA tasks among them)
# the tasks a role's container must have (an admin container's differ between MedPerf's branches)
ROLES = {"prep": ("prepare", "sanity_check", "statistics"), "FL node": ("generate_plan", "start_aggregator", "train")}


def key_lines(text: str) -> dict[tuple, int]:
    """Each mapping key's line in the YAML text, by its path of keys."""
    lines: dict[tuple, int] = {}

    def walk(node, path: tuple) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    lines.setdefault((*path, key.value), key.start_mark.line + 1)
                    walk(value, (*path, key.value))
    try:
        walk(yaml.compose(text, Loader=yaml.SafeLoader), ())
    except yaml.YAMLError:
        pass
    return lines


def _near(word: str, choices) -> str:
    match = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.7)
    return f"; did you mean '{match[0]}'?" if match else ""


def findings(config: dict, text: str, source: str) -> list[str]:
    """What in a (valid) config MedPerf's training flow would not use, one line each."""
    lines = key_lines(text)
    found: list[tuple[int, str]] = []

    def say(path: tuple, what: str) -> None:
        line = lines.get(path)
        found.append((line or 0, f"{source}:{line}: {what}" if line else f"{source}: {what}"))

    for key in config:
        if key not in TOP_KEYS:
            say((key,), f"'{key}' is not a key of a MedPerf container config{_near(key, TOP_KEYS)}")
    tasks = config.get("tasks") or {}
    for task, spec in tasks.items():
        if task not in TASKS:
            say(("tasks", task), f"task '{task}' is not one MedPerf's training flow runs{_near(task, TASKS)}")
        offered = {v for s in ALL_STEPS if s.task == task for v in s.offered} | set(ALWAYS_OFFERED)
        for key in spec:
            if key not in TASK_KEYS:
                say(("tasks", task, key), f"'{key}' is not a key of a task{_near(key, TASK_KEYS)}")
        for kind in ("input_volumes", "output_volumes"):
            for name, volume in (spec.get(kind) or {}).items():
                if task in TASKS and name not in offered:
                    say(("tasks", task, kind, name), f"volume '{name}' is not one MedPerf offers to task '{task}'"
                                                     f"{_near(name, sorted(offered))}")
                for key in volume:
                    if key not in VOLUME_KEYS:
                        say(("tasks", task, kind, name, key), f"'{key}' is not a key of a volume{_near(key, VOLUME_KEYS)}")
    for role, needed in ROLES.items():
        missing = [t for t in needed if t not in tasks]
        if missing and set(needed) & set(tasks):
            say(("tasks",), f"a {role} container needs the tasks {', '.join(needed)}; missing: {', '.join(missing)}")
    return [text for _, text in sorted(found, key=lambda f: f[0])]
