"""A Dockerfile as medperf-lite reads it (both image builds): its base, COPY/ADD sources and
destinations, pip installs, ENV, WORKDIR and ENTRYPOINT; any other RUN step is listed as
skipped for the local runner. A line it cannot read (unbalanced quotes, broken exec-form JSON)
is a one-line error naming the file.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from medperf_lite.containers.contract import loader_refusal
from medperf_lite.errors import MedperfError

ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=[^=]\S*|[A-Za-z_][A-Za-z0-9_]*=")  # VAR=value before a command


@dataclass
class Recipe:
    """What medperf-lite takes from a Dockerfile."""

    base: str = ""
    copies: list[tuple[list[str], str]] = field(default_factory=list)  # (sources in the folder, image path)
    pips: list[list[str]] = field(default_factory=list)  # each pip install's arguments
    env: dict[str, str] = field(default_factory=dict)
    workdir: str | None = None
    entrypoint: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\s*\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def _exec_form(rest: str) -> list[str]:
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", rest]


SEPARATOR = re.compile(r"(\s*(?:&&|;|\|\|)\s*)")


def run_parts(rest: str) -> list[tuple[str, list[str] | None]]:
    """A RUN line's shell commands and the separators between them, in order: each as its text
    and its words (None for a separator or an empty part), so that it can be put back together."""
    return [(part, shlex.split(part) if part.strip() and not SEPARATOR.fullmatch(part) else None)
            for part in SEPARATOR.split(rest)]


def pip_install(segment: list[str]) -> list[str] | None:
    """The arguments of a ``pip install`` command line, or None for any other command."""
    words = segment[1:] if segment[:1] == ["env"] else segment
    while words and ASSIGNMENT.fullmatch(words[0]):  # leading VAR=value assignments
        words = words[1:]
    if len(words) >= 2 and re.fullmatch(r"(/\S*/)?pip3?(\.\d+)?", words[0]) and words[1] == "install":
        return words[2:]
    if len(words) >= 4 and re.fullmatch(r"(/\S*/)?python3?(\.\d+)?", words[0]) and words[1:4] == ["-m", "pip", "install"]:
        return words[4:]
    return None


def parse_dockerfile(text: str, source: str = "Dockerfile") -> Recipe:
    recipe = Recipe()
    for keyword, rest in _instructions(text):
        try:
            _take(recipe, keyword, rest, source)
        except (ValueError, TypeError) as e:  # unbalanced quotes, broken exec-form JSON
            raise MedperfError(f"{source}: cannot read '{keyword} {rest[:200]}': {e}") from None
    if not recipe.base:
        raise MedperfError(f"{source}: no FROM line")
    return recipe


def _take(recipe: Recipe, keyword: str, rest: str, source: str) -> None:
    """One Dockerfile instruction into the recipe."""
    if keyword == "FROM":
        if recipe.base:
            raise MedperfError(f"{source}: multi-stage builds are not supported for the local runner")
        recipe.base = rest.split()[0] if rest else ""
    elif keyword in ("COPY", "ADD"):
        words = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ValueError("the exec form is a JSON list of strings")
        flags = [w for w in words if w.startswith("--")]
        if any(f.startswith("--from") for f in flags):
            raise MedperfError(f"{source}: COPY --from (multi-stage) is not supported for the local runner")
        words = [w for w in words if not w.startswith("--")]
        if len(words) < 2 or any("://" in w for w in words[:-1]):
            raise MedperfError(f"{source}: cannot take '{keyword} {rest}' (only local sources)")
        recipe.copies.append((words[:-1], words[-1]))
    elif keyword == "RUN":
        for part, words in run_parts(rest):
            args = pip_install(words) if words else None
            if args is not None:
                recipe.pips.append(args)
            elif words:
                recipe.skipped.append(" ".join(part.split()))
    elif keyword == "ENV":
        words = shlex.split(rest)
        if words and "=" not in words[0]:
            recipe.env[words[0]] = " ".join(words[1:])
        else:
            recipe.env.update(w.split("=", 1) for w in words if "=" in w)
        for name, value in recipe.env.items():
            why = loader_refusal(name, value)
            if why:
                raise MedperfError(f"{source}: ENV {why}")
    elif keyword == "WORKDIR":
        recipe.workdir = str(PurePosixPath(recipe.workdir or "/") / rest.strip())
    elif keyword == "ENTRYPOINT":
        recipe.entrypoint = _exec_form(rest)
