"""MedPerf's container config format (``container_config.yaml``), validated.

Accepted as real MedPerf writes it: ``container_type: DockerImage``, ``image``, ``tasks``
each with ``run_args.command`` and ``input_volumes`` / ``output_volumes`` (every volume a
``mount_path`` and a ``type``). medperf-lite accepts an optional ``local`` section mapping
image paths to folders of the container's source (relative to the config file), used by
the local runner instead of a local image (``medperf-lite image build``).
"""

from __future__ import annotations

import shlex
from pathlib import Path, PurePosixPath

from medperf_lite.containers.contract import INPUTS, RUN_ARGS_KEYS, loader_refusal
from medperf_lite.errors import MedperfError
from medperf_lite.inputs import fetch_text, load_yaml, mapping, refuse_outside_links

VOLUME_TYPES = ("directory", "file")


def _fail(source: str, where: str, why: str) -> MedperfError:
    return MedperfError(f"invalid container config {source}: '{where}' {why}")


def command_argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


def validate(config: object, source: str) -> dict:
    """Returns the config if it is a valid MedPerf container config, else a one-line error."""
    if not isinstance(config, dict):
        raise MedperfError(f"invalid container config {source}: expected a mapping at the top level")
    if config.get("container_type", "DockerImage") != "DockerImage":
        raise _fail(source, "container_type", f"must be DockerImage, not {config['container_type']!r}")
    if not isinstance(config.get("image"), str) or not config["image"]:
        raise _fail(source, "image", "is required and must be a string")
    tasks = config.get("tasks")
    if not isinstance(tasks, dict) or not tasks:
        raise _fail(source, "tasks", "is required and must map task names to tasks")
    for name, task in tasks.items():
        _validate_task(source, f"tasks.{name}", task)
    local = config.get("local")
    if local is not None:
        if not isinstance(local, dict) or not local:
            raise _fail(source, "local", "must map image paths to source folders")
        for image_path, folder in local.items():
            if not PurePosixPath(str(image_path)).is_absolute() or not isinstance(folder, str):
                raise _fail(source, f"local.{image_path}", "must map an absolute image path to a folder")
            if PurePosixPath(folder).is_absolute() or ".." in PurePosixPath(folder).parts:
                raise _fail(source, f"local.{image_path}", "must name a folder inside the container's own folder")
    return config


def _validate_task(source: str, where: str, task: object) -> None:
    if not isinstance(task, dict):
        raise _fail(source, where, "must be a mapping")
    run_args = task.get("run_args")
    if not isinstance(run_args, dict):
        raise _fail(source, f"{where}.run_args", "is required and must be a mapping")
    for key in run_args:
        if key not in RUN_ARGS_KEYS:
            raise _fail(source, f"{where}.run_args.{key}", f"is not allowed; run_args may hold only {', '.join(RUN_ARGS_KEYS)}")
    for key in ("command", "entrypoint"):
        value = run_args.get(key)
        if value is None and key == "entrypoint":
            continue
        if not value or not (isinstance(value, str) or
                             (isinstance(value, list) and all(isinstance(c, str) for c in value))):
            raise _fail(source, f"{where}.run_args.{key}", "must be a non-empty string or list of strings")
    environment = run_args.get("environment")
    if environment is not None and not (isinstance(environment, dict) and all(
            isinstance(k, str) and isinstance(v, str | int | float | bool) for k, v in environment.items())):
        raise _fail(source, f"{where}.run_args.environment", "must map variable names to values")
    for variable, value in (environment or {}).items():
        why = loader_refusal(variable, value)
        if why:
            raise MedperfError(f"invalid container config {source}: {where}.run_args.environment: {why}")
    mounts: set[str] = set()
    names: set[str] = set()
    for kind in ("input_volumes", "output_volumes"):
        volumes = task.get(kind) or {}
        if not isinstance(volumes, dict):
            raise _fail(source, f"{where}.{kind}", "must map volume names to volumes")
        for vname, volume in volumes.items():
            vwhere = f"{where}.{kind}.{vname}"
            if vname in names:
                raise _fail(source, vwhere, "is declared twice (as input and output)")
            names.add(vname)
            if not isinstance(volume, dict):
                raise _fail(source, vwhere, "must be a mapping with mount_path and type")
            mount = volume.get("mount_path")
            if not isinstance(mount, str) or not PurePosixPath(mount).is_absolute():
                raise _fail(source, f"{vwhere}.mount_path", "is required and must be an absolute path")
            if ".." in PurePosixPath(mount).parts:
                raise _fail(source, f"{vwhere}.mount_path", "must not contain '..'")
            if volume.get("type") not in VOLUME_TYPES:
                raise _fail(source, f"{vwhere}.type", "must be 'directory' or 'file'")
            if mount in mounts:
                raise _fail(source, f"{vwhere}.mount_path", f"'{mount}' is used twice")
            mounts.add(mount)
    task_name = where.split(".", 1)[1]
    for vname in task.get("output_volumes") or {}:
        if vname in INPUTS.get(task_name, ()):
            raise _fail(source, f"{where}.output_volumes.{vname}", f"is refused: MedPerf offers '{vname}' to task "
                        f"'{task_name}' as an input, always read-only")


def load(location: str) -> tuple[dict, str | None]:
    """Loads and validates a config; returns it and its local source folder (or None)."""
    return parse(*fetch_text(location), location)


def local_folder(source: str, folder: str, container: str) -> Path:
    """A ``local`` source folder, resolved (links followed): inside the container's folder, or refused."""
    root = Path(source).resolve()
    host = (root / folder).resolve()
    if not host.is_relative_to(root):
        raise MedperfError(f"the local source '{folder}' of container '{container}' leaves its folder {root}")
    if host.is_dir():
        refuse_outside_links(host, f"the local source '{folder}' of container '{container}':")
    return host


def parse(text: str, path: Path | None, location: str) -> tuple[dict, str | None]:
    """A config's text, validated; with the local source folder (or None for a URL)."""
    config = validate(load_yaml(text, location), location)
    if path is not None:
        for folder in (config.get("local") or {}).values():
            local_folder(str(path.parent), folder, location)
    return config, str(path.parent) if path is not None else None


def parse_parameters(text: str, location: str) -> dict:
    return mapping(text, location, "parameters file", allow_empty=True)
