"""The host's part of every bubblewrap sandbox medperf-lite starts: a task's (runners.local)
and an image build's pip (images). The sandbox's root is a fresh tmpfs; into it, read-only,
go only the system folders (``/usr``, ``/etc`` and the root's links into them) with the
host's secrets masked, and this Python (its base installation and the venv); never the rest
of the host (``/root``, ``/home``, ``/run`` and its sockets, the work folders,
MEDPERF_LITE_HOME). Host-side, bwrap itself runs with ``HOST_ENV`` only: nothing of a task,
an image or the caller reaches the launcher (no ``LD_PRELOAD`` before the sandbox exists).
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from pathlib import Path

from medperf_lite.errors import MedperfError

SYSTEM = ("usr", "etc")  # bound read-only, with the root's links into them (bin, lib, ...)
SECRETS = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-")  # masked: a root task could read them
SECRET_FOLDERS = ("/etc/ssh", "/etc/ssl/private", "/etc/sudoers.d")
HOST_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}  # bwrap's own: nothing of a task or caller


def bwrap() -> str:
    found = shutil.which("bwrap")
    if found is None:
        raise MedperfError("medperf-lite's sandbox needs bubblewrap: install it with 'apt-get install bubblewrap'")
    return found


def in_system(path: Path) -> bool:
    return any(str(path).startswith(f"/{top}/") for top in SYSTEM)


@functools.cache
def root_binds() -> tuple[str, ...]:
    """The host's part of every sandbox; the same for the whole process, so computed once."""
    args: list[str] = []
    for entry in sorted(os.listdir("/")):
        path = Path("/") / entry
        if path.is_symlink() and os.readlink(path).lstrip("/").split("/")[0] in SYSTEM:
            args += ["--symlink", os.readlink(path), str(path)]
        elif entry in SYSTEM and path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    args += [arg for secret in SECRETS if Path(secret).exists() for arg in ("--ro-bind", "/dev/null", secret)]
    args += [arg for folder in SECRET_FOLDERS if Path(folder).is_dir() for arg in ("--tmpfs", folder)]
    for prefix in dict.fromkeys((Path(sys.base_prefix).resolve(), Path(sys.prefix))):
        if not in_system(prefix):
            args += ["--ro-bind", str(prefix), str(prefix)]
    return tuple(args)


def base_command(tmpdir: Path) -> list[str]:
    """bwrap with the host's part, a fresh ``tmpdir`` at /tmp, /dev and /proc; a root caller
    without root's powers. The caller adds its binds, ``--chdir`` and the command."""
    # the fresh /tmp first: this Python may live below the host's /tmp and is bound over it
    argv = [bwrap(), "--die-with-parent", "--unshare-pid", "--new-session", "--bind", str(tmpdir), "/tmp",
            *root_binds(), "--dev", "/dev", "--proc", "/proc"]
    if os.geteuid() == 0:
        argv += ["--cap-drop", "ALL"]
    return argv


def with_environment(argv: list[str], env: dict[str, str]) -> list[str]:
    """``argv`` (a bwrap command) with ``env`` as the sandboxed process's whole environment."""
    inside = [arg for name, value in env.items() for arg in ("--setenv", name, value)]
    return [argv[0], "--clearenv", *inside, *argv[1:]]
