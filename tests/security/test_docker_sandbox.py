"""Escape attempts against the Docker runner, each as a task of a hostile container (our prep
image): every one must be blocked (the probe checks, inside the container, that the attempt
failed or found nothing) and the host must be unchanged."""

import os

import pytest

from medperf_lite.containers import config as container_config
from medperf_lite.containers.runners import TaskRun, choose
from tests.helpers import REPO, settings_for
from tests.unit.test_local_runner import prep_container

ATTEMPTS = {
    "capabilities: none effective": "grep -Eq '^CapEff:[[:space:]]+0+$' /proc/self/status",
    "no new privileges": "grep -Eq '^NoNewPrivs:[[:space:]]+1$' /proc/self/status",
    "write the image's /usr": "! touch /usr/evil 2>/dev/null",
    "write the image's /etc": "! touch /etc/evil 2>/dev/null",
    "write the image's root": "! touch /evil 2>/dev/null",
    "write the image's code": "! touch /project/evil 2>/dev/null",
    "read another user's local storage": "test ! -e {secret}",
    "see MEDPERF_LITE_HOME": "test ! -e {home}",
    "see the checkout": f"test ! -e {REPO / 'medperf_lite'}",
    "reach a host UNIX socket": "test ! -e {sock}",
    "reach the Docker socket": "test ! -e /var/run/docker.sock && test ! -e /run/docker.sock",
    "see the caller's secret variable": 'test -z "$CALLER_SECRET"',
    "see host processes": "test $(ls /proc | grep -c '^[0-9]') -lt 10",
    "reach the network (no network task)":
        "! python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 2)\" 2>/dev/null",
    "mount a filesystem": "! python3 -c \"import ctypes; assert ctypes.CDLL(None).mount(b'n', b'/tmp', b'tmpfs', 0, None) == 0\"",
    "change ownership": "touch /tmp/f && ! chown 1234 /tmp/f 2>/dev/null",
    "raw sockets": "! python3 -c \"import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)\" 2>/dev/null",
    "chroot": "! python3 -c \"import os; os.chroot('/tmp')\" 2>/dev/null",
    "write an input volume": "! touch /in/evil 2>/dev/null",
    "read the host's /tmp": "test ! -e {host_tmp_marker}",
    "write /proc/sys": "! sh -c 'echo 1 > /proc/sys/vm/drop_caches' 2>/dev/null",
    "host block devices": "test -z \"$(ls /dev | grep -E '^(sd|vd|nvme|xvd)')\"",
    "fork without limit": "test \"$(cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max)\" = 4096",
}


@pytest.mark.parametrize("attempt", sorted(ATTEMPTS))
def test_escape_attempt_is_blocked(docker_engine, attempt, host, tmp_path, monkeypatch):
    monkeypatch.setenv("CALLER_SECRET", "s3cret")
    probe = ATTEMPTS[attempt].format(**host)
    image = prep_container()["config"]["image"]
    config = container_config.validate({"image": image, "tasks": {"t": {
        "run_args": {"command": ["sh", "-c", f"{probe} && touch /out/blocked"]},
        "input_volumes": {"data_path": {"mount_path": "/in", "type": "directory"}},
        "output_volumes": {"output_path": {"mount_path": "/out", "type": "directory"}}}}}, "hostile")
    container = {"name": "hostile", "config": config, "source": None, "parameters": None}
    before = sorted(os.listdir(host["root"]))
    offered = {"data_path": host["root"] / "in", "output_path": tmp_path / "out"}
    choose(settings_for("docker")).run(TaskRun(container, "t", offered, log=tmp_path / "t.log"))
    assert (tmp_path / "out" / "blocked").exists(), f"{attempt}: not blocked; {(tmp_path / 't.log').read_text()}"
    assert sorted(os.listdir(host["root"])) == before and not os.listdir(host["root"] / "in")


def test_outputs_come_back_without_setuid_bits_or_devices(docker_engine, tmp_path):
    """A root caller's container plants a setuid copy of a shell and a fifo in its output folder:
    what comes back is neither."""
    import stat

    image = prep_container()["config"]["image"]
    plant = "cp /bin/sh /out/rootshell && chmod u+s,g+s /out/rootshell && mkfifo /out/pipe && ln -s /etc/shadow /out/s"
    config = container_config.validate({"image": image, "tasks": {"t": {
        "run_args": {"command": ["sh", "-c", plant]},
        "output_volumes": {"output_path": {"mount_path": "/out", "type": "directory"}}}}}, "hostile")
    container = {"name": "hostile", "config": config, "source": None, "parameters": None}
    choose(settings_for("docker")).run(TaskRun(container, "t", {"output_path": tmp_path / "out"}, log=tmp_path / "t.log"))
    shell = tmp_path / "out" / "rootshell"
    assert shell.exists() and not shell.stat().st_mode & (stat.S_ISUID | stat.S_ISGID)
    assert not (tmp_path / "out" / "pipe").exists() and not (tmp_path / "out" / "s").is_symlink()
