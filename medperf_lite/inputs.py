"""The one place that reads and parses the files a user or a container hands us (container
configs, parameters, plans, participants lists, reports, status files, profile config):
bounded in size, UTF-8, regular files only, YAML without alias bombs or runaway nesting.
Every failure is a one-line MedperfError naming the file.
"""

from __future__ import annotations

import os
import stat
import urllib.parse
from pathlib import Path

import yaml

from medperf_lite.errors import MedperfError

MAX_BYTES = 1 << 20  # 1 MiB: any config, parameters, plan or list we read
MAX_DEPTH = 64  # nesting of YAML mappings and sequences
MAX_ALIASES = 100  # YAML aliases (a handful are normal; thousands are a bomb)
MAX_NODES = 1_000_000  # values once aliases are expanded: what a program walking the data will see


def _decode(data: bytes, source: str) -> str:
    if len(data) > MAX_BYTES:
        raise MedperfError(f"{source} is larger than {MAX_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise MedperfError(f"{source} is not UTF-8 text") from None


def read_file(path: Path, source: str | None = None) -> str:
    """A regular file's text, at most MAX_BYTES (never /dev/zero, a fifo or a folder)."""
    source = source or str(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise MedperfError(f"{source} is not a regular file")
        with open(path, "rb") as f:
            return _decode(f.read(MAX_BYTES + 1), source)
    except OSError as e:
        raise MedperfError(f"cannot read {source}: {e.strerror}") from None


def fetch_text(location: str) -> tuple[str, Path | None]:
    """Reads a path or an http(s)/file URL; returns the text and, for local files, its path."""
    try:
        parsed = urllib.parse.urlparse(location)
    except ValueError as e:
        raise MedperfError(f"'{location}' is not a valid path or URL: {e}") from None
    if parsed.scheme in ("http", "https"):
        from urllib.request import urlopen  # only here: it costs every command ~20 ms to import

        try:
            with urlopen(location, timeout=30) as response:
                return _decode(response.read(MAX_BYTES + 1), location), None
        except (OSError, ValueError) as e:
            raise MedperfError(f"cannot download {location}: {e}") from None
    if parsed.scheme not in ("", "file"):
        raise MedperfError(f"unsupported location '{location}': give a path or an http(s)/file URL")
    path = Path(parsed.path if parsed.scheme == "file" else location)
    return read_file(path, location), path.resolve()


def _check_shape(text: str, source: str) -> None:
    """Walks the YAML event stream (no recursion, nothing built) for depth and aliases."""
    depth = aliases = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise MedperfError(f"{source} is nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise MedperfError(f"{source} uses more than {MAX_ALIASES} YAML aliases")
    if aliases and _expanded(yaml.compose(text, Loader=yaml.SafeLoader), {}) > MAX_NODES:
        raise MedperfError(f"{source} expands to more than {MAX_NODES} values through its YAML aliases")


def _expanded(node, seen: dict) -> int:
    """How many values the node stands for once aliases are expanded (shared nodes counted
    once per use, computed once each: a bomb is measured without being built)."""
    if node is None:
        return 0
    if id(node) not in seen:
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        seen[id(node)] = 1 + sum(_expanded(child, seen) for child in children)
    return seen[id(node)]


def load_yaml(text: str, source: str) -> object:
    try:
        _check_shape(text, source)
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise MedperfError(f"{source} is not valid YAML{where}") from None


def mapping(text: str, source: str, what: str, allow_empty: bool = False) -> dict:
    """YAML text that must hold a mapping (parameters, a participants list, a report, a plan)."""
    data = load_yaml(text, source)
    if data is None and allow_empty:
        return {}
    if not isinstance(data, dict):
        raise MedperfError(f"the {what} {source} must hold a YAML mapping")
    return data


def load_mapping(location: str, what: str, allow_empty: bool = False) -> dict:
    """A YAML file (a path or URL) that must hold a mapping."""
    return mapping(fetch_text(location)[0], location, what, allow_empty)


MAX_ENTRIES = 200_000  # files and folders in a container folder we walk


def refuse_outside_links(root: Path, what: str) -> None:
    """Every link under ``root`` leads to something inside it: a link out of the folder
    (absolute, relative or to a folder), one that leads nowhere, or a loop is refused. Builds
    copy and hash these folders, and runs bind them: a followed link would put the builder's
    own files into an image or a task."""
    base = os.path.realpath(root)
    seen = 0
    for top, dirs, files in os.walk(root, followlinks=False):
        seen += len(dirs) + len(files)
        if seen > MAX_ENTRIES:
            raise MedperfError(f"{what} {root} holds more than {MAX_ENTRIES} files and folders")
        for name in [*dirs, *files]:
            path = os.path.join(top, name)
            if not os.path.islink(path):
                continue
            shown = os.path.relpath(path, root)
            target = os.path.realpath(path)
            if not os.path.exists(target):
                raise MedperfError(f"{what} {root}: the link {shown} leads nowhere (or into a loop)")
            if target != base and not target.startswith(base + os.sep):
                raise MedperfError(f"{what} {root}: the link {shown} leads out of the folder, to {target}")
