"""What an image's pip installs become on this machine, in both builds: pins that cannot be
had here replaced by *substitutions* (``torch==2.13.0``: any requirement of ``torch`` becomes
``torch==2.13.0``; ``!name`` leaves a package out), package sources other than the configured
index dropped, requirement files rewritten alike (nested ``-r`` through the caller's mapping),
local package paths checked by the caller, URL requirements refused (see pip_options).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from medperf_lite.containers import pip_options
from medperf_lite.errors import MedperfError
from medperf_lite.files import FIXTURES
from medperf_lite.inputs import read_file

SUBSTITUTIONS = FIXTURES / "containers" / "substitutions.txt"  # the shipped ones (torch 2.13.0 ...)
PIP_ITSELF = re.compile(r"^pip([<>=!~].*)?$")
NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def base_key(image: str) -> str:
    return f"FROM {image}"


def base_packages(subs: dict[str, str], base: str) -> list[str]:
    """The requirements a base image provides (a substitutions file's ``FROM IMAGE REQ...``:
    MedPerf main's Flower containers get flwr from ``flwr/base``), to install first."""
    return subs.get(base_key(base), "").split()


def load_substitutions(path: Path | None) -> dict[str, str]:
    """``name==version`` lines (comments and blanks ignored) → {normalized name: requirement};
    ``!name`` leaves the package out (its pin has no build for this machine's torch and the
    image's code does not import it): {normalized name: ""}."""
    if path is None:
        return {}
    subs = {}
    for line in read_file(path, f"substitutions file {path}").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("FROM "):  # FROM IMAGE REQUIREMENT...: what a base image provides, installed instead
            words = line.split()
            if len(words) < 3 or not all(NAME.match(w) for w in words[2:]):
                raise MedperfError(f"substitutions file {path}: 'FROM IMAGE REQUIREMENT...' expected, not '{line}'")
            subs[base_key(words[1])] = " ".join(words[2:])
            continue
        match = NAME.match(line.removeprefix("!"))
        if not match:
            raise MedperfError(f"substitutions file {path}: cannot read '{line}'")
        subs[normalize(match.group(1))] = "" if line.startswith("!") else line
    return subs


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def substitute(requirement: str, subs: dict[str, str]) -> str:
    match = NAME.match(requirement.strip())
    if match and normalize(match.group(1)) in subs:
        return subs[normalize(match.group(1))]
    return requirement


def _option_words(option: pip_options.Option, image_file, local_path, notes: list[str]) -> list[str]:
    """What one pip option becomes for the image (see pip_options)."""
    shown = " ".join(option.words)
    if option.action == pip_options.INDEX:
        notes.append(f"dropped pip option '{shown}' (only the configured package index is used)")
        return []
    if option.action == pip_options.DROP:
        if option.name != "user":  # --user: into the image's environment, never a home folder
            notes.append(f"dropped pip option '{shown}' (the image's environment is where pip installs)")
        return []
    if option.action == pip_options.FILE:
        return [f"--{option.name}", str(image_file(option.value))]
    if option.action == pip_options.EDITABLE:
        pip_options.check_requirement(option.value)
        return ["--editable", local_path(option.value)]
    return [f"--{option.name}"] + ([option.value] if option.value is not None else [])


def _requirement(word: str, subs: dict[str, str], local_path, notes: list[str]) -> str:
    pip_options.check_requirement(word)
    if pip_options.is_path(word):
        return local_path(word)
    new = substitute(word, subs)
    if new != word:
        notes.append(f"'{word}' → '{new}'" if new else f"'{word}' left out")
    return new


def _rewritten(words: list[str], subs: dict[str, str], image_file, local_path, notes: list[str],
               skip_pip: bool = False) -> list[str]:
    """A run of pip words (a command line, or a requirement file's option line) for the image."""
    out: list[str] = []
    for item in pip_options.read_options(words):
        if isinstance(item, pip_options.Option):
            out += _option_words(item, image_file, local_path, notes)
        elif not (skip_pip and PIP_ITSELF.match(item)):
            new = _requirement(item, subs, local_path, notes)
            if new:
                out.append(new)
    return out


def rewrite_requirements(text: str, subs: dict[str, str], image_file=None, local_path=None) -> tuple[str, list[str]]:
    """A requirements file for the image: substitutions applied, package sources other than the
    configured index dropped, nested ``-r``/``-c`` files mapped by ``image_file`` (and so
    rewritten too), local paths checked by ``local_path``; URLs refused."""
    image_file = image_file or (lambda path: path)
    local_path = local_path or (lambda path: path)
    lines, notes = [], []
    for line, words in pip_options.requirement_lines(text):
        if words[0].startswith("-"):
            kept = _rewritten(words, subs, image_file, local_path, notes)
            if kept:
                lines.append(shlex.join(kept))
            continue
        requirement, _, options = line.partition(" --")
        for option in pip_options.read_options(shlex.split("--" + options)) if options else []:
            if not isinstance(option, pip_options.Option) or option.action != pip_options.KEEP:
                raise MedperfError(f"the requirement line '{line[:200]}' has options medperf-lite cannot take")
        new = _requirement(requirement.strip(), subs, local_path, notes)
        if new:
            lines.append(new if new != requirement.strip() else line)
    return "\n".join(lines) + "\n", notes


def pip_arguments(args: list[str], subs: dict[str, str], image_file, local_path=None) -> tuple[list[str], list[str]]:
    """A pip install's arguments for the image, read as pip reads them (pip_options): upgrades
    of pip itself and ``--user`` left out, ``-r``/``-c`` files mapped by ``image_file``,
    package sources other than the configured index dropped, local paths checked by
    ``local_path``, substitutions applied; URLs refused."""
    notes: list[str] = []
    return _rewritten(args, subs, image_file, local_path or (lambda path: path), notes, skip_pip=True), notes
