"""Our own files: where the package's data is (fixtures, scenarios), and how a file is written so
that a reader sees either the old or the new one (temp file, fsync, rename, fsync the folder)."""

from __future__ import annotations

import importlib.resources
import os
import tempfile
from pathlib import Path


def package_data(name: str) -> Path:
    """The folder of medperf_lite's package data ``name`` (fixtures, scenarios): fixtures/ and
    scenarios/ beside the package in a checkout, inside the installed package from a wheel."""
    return Path(str(importlib.resources.files(f"medperf_lite.{name}")))


FIXTURES = package_data("fixtures")


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
