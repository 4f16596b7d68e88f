"""MedPerf main's training flow with MedPerf main's own example containers
(../shared/medperf-examples-main, or MEDPERF_LITE_MAIN_EXAMPLES), run unchanged: its Flower FL
container, its admin container and its mock CA (the server's CA 1, as MedPerf's local server
seeds it), and the mixed sets: our prep with their FL, their FL with our admin.

How their images are built here (fixtures/containers/substitutions.txt): FROM
flwr/base:1.25.0-py3.13-ubuntu24.04 becomes our debootstrap base with flwr==1.25.0 (no registry
is reachable); torch==2.8.0 becomes 2.13.0, the CPU wheel on this machine (another version pulls
a multi-GB CUDA build); the mock CA's python:3.9.16-slim becomes our base. Their initial weights,
which MedPerf downloads, are made from their model class (scenarios/flower_weights.py). Their supernodes
each listen on 127.0.0.1:9094: two sites on one host run because each is in its own network
namespace (medperf_lite.containers.sitenet), which these tests need.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

from medperf_lite.containers import sitenet
from medperf_lite.files import FIXTURES
from medperf_lite.simulator.engine import simulate
from medperf_lite.simulator.scenario import Overrides
from tests.docker.conftest import docker_engine  # noqa: F401
from tests.helpers import BIN, REPO, cli_env

MAIN = Path(os.environ.get("MEDPERF_LITE_MAIN_EXAMPLES", REPO.parent / "shared" / "medperf-examples-main"))
# flower_tutorial with an FL container not ours plays scenarios/flower_tutorial_medperf.yaml
SCENARIO = "flower_tutorial"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (MAIN / "examples" / "flower" / "fl").is_dir(),
                       reason=f"MedPerf main's example containers are not at {MAIN}"),
    pytest.mark.skipif(sitenet.available() is not None, reason=f"MedPerf main's supernodes share a fixed port: "
                                                               f"{sitenet.available()}"),
]


def play(tmp_path: Path, overrides: Overrides, runner: str = "local") -> dict:
    ok, _, report = simulate(SCENARIO, runner=runner, workdir=tmp_path / "run", echo=False, overrides=overrides)
    failed = next((s for s in report["steps"] if not s["ok"]), None)
    assert ok, failed
    assert report["scenario"] == "flower_tutorial_medperf" and not report["orphans"]
    return report


def test_mains_flow_with_medperf_mains_containers(tmp_path):
    """The issue's own command line: `medperf-lite simulate flower_tutorial --containers MAIN`."""
    workdir = tmp_path / "run"
    out = subprocess.run([str(BIN / "medperf-lite"), "simulate", "flower_tutorial", "--containers", str(MAIN),
                          "--workdir", str(workdir)], env=cli_env(tmp_path / "home"), capture_output=True, text=True,
                         timeout=900)
    report = json.loads((workdir / "report.json").read_text())
    assert out.returncode == 0, (out.stdout[-3000:], [s for s in report["steps"] if not s["ok"]])
    assert "is not medperf-lite's own" in out.stdout and "PASSED: flower_tutorial_medperf" in out.stdout
    assert report["scenario"] == "flower_tutorial_medperf" and not report["orphans"]
    (event,) = report["events"]
    assert event["status"] == "FINISHED" and str(event["model"]).endswith("trained_model.pt"), event


def test_our_prep_with_medperf_mains_fl(tmp_path):
    play(tmp_path, Overrides(source=MAIN, containers={"prep": FIXTURES / "containers" / "chestxray_prep"}))


def test_medperf_mains_fl_with_our_admin(tmp_path):
    """Their FL container, our admin: the model owner's status check then lists the run."""
    ours = FIXTURES / "containers" / "flower_admin"
    play(tmp_path, Overrides(source=MAIN, containers={"fl_admin": ours},
                                       vars={"STATUS": "(?s)status: .*status check exit 0"}))


@pytest.mark.docker
def test_mains_flow_with_medperf_mains_containers_in_docker(docker_engine, tmp_path):  # noqa: F811
    report = play(tmp_path, Overrides(source=MAIN), runner="docker")
    name = report["network"]["names"]  # sites by default in Docker: a network of the run's own
    assert report["network"]["mode"] == "sites" and name.startswith("medperf-lite-"), report["network"]
    assert name not in {n.name for n in docker_engine.networks.list()}, "the run's Docker network was left"
