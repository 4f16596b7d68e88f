"""Escape attempts against the local (bubblewrap) runner, each run as a task of a hostile
container: every one must be blocked (the probe checks, inside the sandbox, that the attempt
failed or found nothing) and the host must be unchanged."""

import os
import sys

import pytest

from medperf_lite.containers import config as container_config
from medperf_lite.containers.runners import TaskRun
from medperf_lite.containers.runners.local import LocalRunner
from tests.helpers import REPO, settings_for

VENV_SITE = next(p for p in sys.path if p.endswith("site-packages"))

# name -> a shell test that holds when the attempt is blocked ({secret}, {home}, {sock} filled in)
ATTEMPTS = {
    "read /etc/shadow": "! grep -q root /etc/shadow",
    "read /etc/gshadow": "! grep -q root /etc/gshadow",
    "list /root": "test ! -e /root/.bashrc && ! ls /root/.cache 2>/dev/null",
    "read another user's local storage": "test ! -e {secret}",
    "see MEDPERF_LITE_HOME": "test ! -e {home}",
    "see the checkout": f"test ! -e {REPO / 'medperf_lite'}",
    "write the venv's site-packages": f"! touch {VENV_SITE}/evil.pth 2>/dev/null",
    "write /usr": "! touch /usr/evil 2>/dev/null",
    "write /etc": "! touch /etc/evil 2>/dev/null",
    "reach a host UNIX socket": "test ! -e {sock}",
    "reach /run (service sockets)": "test ! -e /run",
    "see the caller's secret variable": 'test -z "$CALLER_SECRET"',
    "see host processes": "test $(ls /proc | grep -c '^[0-9]') -lt 10",
    "reach the network (no network task)": "! python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 2)\"",
    "mount a filesystem": "! mount -t tmpfs none /mnt 2>/dev/null",
    "change ownership (no capabilities)": "touch /tmp/f && ! chown 1234 /tmp/f 2>/dev/null",
    "raw sockets (no capabilities)":
        "! python3 -c \"import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)\" 2>/dev/null",
    "write an input volume": "! touch /in/evil 2>/dev/null",
    "read the host's /tmp": "test ! -e {host_tmp_marker}",
    "chroot (no capabilities)": "! python3 -c \"import os; os.chroot('/tmp')\" 2>/dev/null",
    "ssh host keys": "test -z \"$(ls /etc/ssh 2>/dev/null)\"",
}


@pytest.mark.parametrize("attempt", sorted(ATTEMPTS))
def test_escape_attempt_is_blocked(attempt, host, hostile_image, tmp_path, monkeypatch):
    monkeypatch.setenv("CALLER_SECRET", "s3cret")
    probe = ATTEMPTS[attempt].format(**host)
    config = container_config.validate({"image": "hostile", "tasks": {"t": {
        "run_args": {"command": ["sh", "-c", f"{probe} && touch /out/blocked"]},
        "input_volumes": {"data_path": {"mount_path": "/in", "type": "directory"}},
        "output_volumes": {"output_path": {"mount_path": "/out", "type": "directory"}}}}}, "hostile")
    container = {"name": "hostile", "config": config, "source": None, "parameters": None}
    before = sorted(os.listdir(host["root"]))
    LocalRunner(settings_for()).run(TaskRun(container, "t", {"data_path": host["root"] / "in", "output_path": tmp_path / "out"},
                              log=tmp_path / "t.log"))
    assert (tmp_path / "out" / "blocked").exists(), f"{attempt}: not blocked; {(tmp_path / 't.log').read_text()}"
    assert sorted(os.listdir(host["root"])) == before and not os.listdir(host["root"] / "in")
