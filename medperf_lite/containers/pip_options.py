"""pip install's arguments and requirement files, read the way pip reads them, so that an image
build uses only this machine's configured package index.

pip parses its options with optparse: a long option may be abbreviated to any prefix that
names one option (``--index=URL`` is ``--index-url``), takes its value attached (``=``) or as
the next word, and short options cluster and take attached values (``-iURL``, ``-qU``,
``-rreq.txt``). Requirement files take a subset of the same options on their own lines, and
per-requirement options after a requirement. Every option is looked up in ``OPTIONS``:

- ``keep``: passed on (``-U``, ``--no-cache-dir``, ...);
- ``file``: ``-r``/``-c``, whose file the caller maps (and rewrites);
- ``index``: a package source (``--index-url``, ``--extra-index-url``, ``--find-links``,
  ``--trusted-host``, ``--proxy`` ...), dropped with a note: only the configured index is used;
- ``drop``: an install location or output the image does not take (``--user``, ``--target``...).

An option pip has that is not in the table is refused: it is never guessed at. A requirement
given as a URL (``https://``, ``git+``, ``name @ URL``) is refused too: it would be fetched
from wherever it points.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from medperf_lite.errors import MedperfError

KEEP, FILE, INDEX, DROP, EDITABLE = "keep", "file", "index", "drop", "editable"
# long option → (takes a value, what medperf-lite does with it)
OPTIONS: dict[str, tuple[bool, str]] = {
    "requirement": (True, FILE), "constraint": (True, FILE), "editable": (True, EDITABLE),
    "index-url": (True, INDEX), "extra-index-url": (True, INDEX), "no-index": (False, INDEX),
    "find-links": (True, INDEX), "trusted-host": (True, INDEX), "proxy": (True, INDEX), "cert": (True, INDEX),
    "client-cert": (True, INDEX), "keyring-provider": (True, INDEX), "isolated": (False, KEEP),
    "upgrade": (False, KEEP), "no-cache-dir": (False, KEEP), "no-deps": (False, KEEP), "pre": (False, KEEP),
    "quiet": (False, KEEP), "verbose": (False, KEEP), "force-reinstall": (False, KEEP),
    "ignore-installed": (False, KEEP), "upgrade-strategy": (True, KEEP), "prefer-binary": (False, KEEP),
    "only-binary": (True, KEEP), "no-binary": (True, KEEP), "no-warn-script-location": (False, KEEP),
    "no-compile": (False, KEEP), "compile": (False, KEEP), "disable-pip-version-check": (False, KEEP),
    "root-user-action": (True, KEEP), "progress-bar": (True, KEEP), "break-system-packages": (False, KEEP),
    "no-build-isolation": (False, KEEP), "use-pep517": (False, KEEP), "no-use-pep517": (False, KEEP),
    "require-hashes": (False, KEEP), "no-input": (False, KEEP), "no-clean": (False, KEEP),
    "timeout": (True, KEEP), "default-timeout": (True, KEEP), "retries": (True, KEEP),
    "ignore-requires-python": (False, KEEP), "no-warn-conflicts": (False, KEEP), "no-color": (False, KEEP),
    "no-python-version-warning": (False, KEEP), "require-virtualenv": (False, KEEP),
    "exists-action": (True, KEEP), "use-feature": (True, KEEP), "use-deprecated": (True, KEEP),
    "config-settings": (True, KEEP), "hash": (True, KEEP), "dry-run": (False, KEEP), "check-build-dependencies": (False, KEEP),
    "user": (False, DROP), "target": (True, DROP), "prefix": (True, DROP), "root": (True, DROP), "src": (True, DROP),
    "log": (True, DROP), "log-file": (True, DROP), "report": (True, DROP), "python": (True, DROP),
    "cache-dir": (True, DROP), "platform": (True, DROP), "python-version": (True, DROP),
    "implementation": (True, DROP), "abi": (True, DROP), "global-option": (True, DROP), "install-option": (True, DROP),
}
SHORT = {"r": "requirement", "c": "constraint", "e": "editable", "i": "index-url", "f": "find-links", "U": "upgrade",
         "q": "quiet", "v": "verbose", "I": "ignore-installed", "t": "target", "b": "src"}
URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^git\+|^(hg|svn|bzr)\+")
DIRECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?\s*@\s*\S")  # "name @ URL"


@dataclass
class Option:
    name: str  # the long name
    value: str | None
    action: str
    words: list[str] = field(default_factory=list)  # as written


def long_name(written: str) -> str:
    """The option a ``--name`` stands for: itself, or the one option it abbreviates."""
    if written in OPTIONS:
        return written
    matches = [name for name in OPTIONS if name.startswith(written)]
    if len(matches) != 1:
        raise MedperfError(f"pip option '--{written}' is not one medperf-lite can take"
                           + (f" (it could be any of {', '.join('--' + m for m in sorted(matches))})" if matches else ""))
    return matches[0]


def read_options(words: list[str]) -> list[Option | str]:
    """The options and the other words (requirements, paths) of a pip install, in order."""
    out: list[Option | str] = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--":
            out += words[i:]
            break
        if word.startswith("--"):
            written, eq, attached = word[2:].partition("=")
            name = long_name(written)
            takes, action = OPTIONS[name]
            if takes and not eq:
                if i >= len(words):
                    raise MedperfError(f"pip option '{word}' needs a value")
                attached, i = words[i], i + 1
            elif eq and not takes:
                raise MedperfError(f"pip option '--{name}' takes no value ('{word}')")
            out.append(Option(name, attached if takes else None, action, [word] if eq or not takes else [word, attached]))
        elif word.startswith("-") and len(word) > 1:
            letters = word[1:]
            while letters:
                letter, letters = letters[0], letters[1:]
                if letter not in SHORT:
                    raise MedperfError(f"pip option '-{letter}' (in '{word}') is not one medperf-lite can take")
                name = SHORT[letter]
                takes, action = OPTIONS[name]
                if takes:
                    value = letters
                    if not value:
                        if i >= len(words):
                            raise MedperfError(f"pip option '{word}' needs a value")
                        value, i = words[i], i + 1
                    out.append(Option(name, value, action, [f"-{letter}", value]))
                    break
                out.append(Option(name, None, action, [f"-{letter}"]))
        else:
            out.append(word)
    return out


def check_requirement(requirement: str) -> None:
    """A requirement that pip would fetch from a URL is refused: only the configured index is used."""
    if URL.match(requirement) or DIRECT.match(requirement):
        raise MedperfError(f"the requirement '{requirement}' names a URL; medperf-lite installs only from the "
                           "configured package index (give a name and version)")


def requirement_lines(text: str) -> list[tuple[str, list[str]]]:
    """A requirements file's logical lines (continuations joined, comments dropped): each as
    its text and its words."""
    joined = re.sub(r"\\\r?\n", " ", text)
    lines = []
    for line in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line:
            try:
                lines.append((line, shlex.split(line)))
            except ValueError as e:
                raise MedperfError(f"cannot read the requirement line '{line[:200]}': {e}") from None
    return lines


def is_path(requirement: str) -> bool:
    """A requirement that names a local folder or archive (pip builds it: its hooks run)."""
    return requirement.startswith((".", "/", "~")) or "/" in requirement or requirement.endswith((".whl", ".tar.gz", ".zip"))
