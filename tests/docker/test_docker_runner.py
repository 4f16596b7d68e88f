"""The Docker runner: the prep tasks in real containers give byte-for-byte the local
runner's outputs; the tutorial plays with every role in its own container."""

import hashlib
import json
import socket
import time
import uuid

import pytest

from medperf_lite.commands.tutorial import toy_data
from medperf_lite.containers.runners import TaskRun, choose
from medperf_lite.errors import MedperfError
from medperf_lite.simulator.engine import simulate
from tests.helpers import run_containers, settings_for
from tests.scenarios.test_scenarios import check_tutorial_outcome
from tests.unit.test_local_runner import prep_container, run_prep


def digests(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and (p.suffix == ".npy" or p.name == "stats.yaml")}


def test_prep_tasks_match_the_local_runner(docker_engine, tmp_path):
    raw = toy_data().generate(tmp_path / "raw", "col1", images=60)
    local = digests(run_prep(tmp_path, raw, "local"))
    docker = digests(run_prep(tmp_path, raw, "docker"))
    assert len(local) == 2 * 60 + 1
    assert docker == local


def test_broken_data_fails_the_same_way(docker_engine, tmp_path):
    raw = toy_data().generate(tmp_path / "raw", "bad", images=20, broken=True)
    with pytest.raises(MedperfError, match="sanity_check.*mismatched counts"):
        run_prep(tmp_path, raw, "docker")


def test_containers_are_removed_and_prep_has_no_network(docker_engine, tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    container = prep_container()
    container["config"]["tasks"]["probe"] = {"run_args": {"command": [
        "python3", "-c", f"import socket; socket.create_connection(('127.0.0.1', {server.getsockname()[1]}), timeout=3)"]}}
    docker = settings_for("docker", run_id=f"probe-{uuid.uuid4().hex[:12]}")
    with pytest.raises(MedperfError, match="failed"):
        choose(docker).run(TaskRun(container, "probe", {}, log=tmp_path / "probe.log"))
    choose(docker).run(TaskRun(container, "probe", {}, log=tmp_path / "probe-host.log", network=True))
    server.close()
    assert not run_containers(docker_engine, docker.run_id)


def assert_sites(report: dict) -> None:
    """The run's users each at their own address on the run's Docker network (the default):
    the aggregator owner's admin task ran beside the aggregator in the owner's site."""
    network = report["network"]
    assert network["mode"] == "sites" and network["names"].startswith("medperf-lite-"), network
    addresses = [a for user, a in network["sites"].items() if "@" in user]
    assert len(addresses) >= 3 and len(set(addresses)) == len(addresses), network


def test_tutorial_in_containers(docker_engine, tmp_path, monkeypatch):
    ok, workdir, report = simulate("tutorial", runner="docker", workdir=tmp_path / "tutorial", echo=False)
    assert ok, json.dumps([s for s in report["steps"] if not s["ok"]], indent=1)
    config = workdir / "medperf_tutorial" / "training_config"
    monkeypatch.syspath_prepend(str(config / "jobs" / "chestxray" / "chestxray" / "custom"))
    check_tutorial_outcome(report)
    assert_sites(report)
    def left():  # this run's containers, by its run ID (a parallel test's are not this run's)
        return run_containers(docker_engine, report["run_id"])

    deadline = time.monotonic() + 60  # a loaded engine takes its time to remove what it was asked to
    while left() and time.monotonic() < deadline:
        time.sleep(1)
    assert not left(), [(c.short_id, c.status, c.attrs["Config"]["Cmd"]) for c in left()]


def test_flower_tutorial_in_containers(docker_engine, tmp_path):
    """MedPerf main's flow with our Flower node in Docker: each site's containers on the run's
    own Docker network at the site's address (the default); no container (holders included) and
    no network left after it."""
    ok, _, report = simulate("flower_tutorial", runner="docker", workdir=tmp_path / "flower", echo=False)
    assert ok, json.dumps([s for s in report["steps"] if not s["ok"]], indent=1)
    (event,) = report["events"]
    assert event["status"] == "FINISHED" and event["rounds_done"] == event["num_rounds"] == 3
    assert all(len(entry["sites"]) == 2 for entry in event["history"])
    assert_sites(report)
    assert report["network"]["names"] not in {n.name for n in docker_engine.networks.list()}, "the network was left"
    deadline = time.monotonic() + 60
    while run_containers(docker_engine, report["run_id"]) and time.monotonic() < deadline:
        time.sleep(1)
    assert not run_containers(docker_engine, report["run_id"])
