"""The seed tutorial, verbatim, with MedPerf's real containers and training config
(``tutorial init --containers``; their local images built by the simulator), and the mixed
sets: MedPerf's prep with our node and admin, our prep with MedPerf's node and admin.

What the copy of MedPerf's training config changes, and why: secure_project.yml's server
name, ports and overseer sp_end_point become 127.0.0.1 and the run's free ports (as MedPerf's
setup fills in the machine's address; the example's 192.168.x address and hostname are never
dialled); the job's server config asks for 8 clients, the tutorial has two (min_clients 2, a
step of the scenario). MedPerf's node pins torch 2.5.1 (and torchvision 0.20.1, torchaudio
2.5.1): the image is built with fixtures/containers/substitutions.txt (torch 2.13.0, the CPU
wheel on this machine; torchvision 0.28.0; torchaudio left out, the node's code does not use it).
"""

import json
from pathlib import Path

import pytest
import torch

from medperf_lite.files import FIXTURES
from medperf_lite.simulator.engine import Overrides, simulate
from tests.compat.conftest import EXAMPLES, LAUNCH_FLAKE, REAL_PREP
from tests.helpers import run_containers

REAL_SCENARIO = Path(__file__).parent / "real_tutorial.yaml"
pytestmark = pytest.mark.slow


def play(name, tmp_path, overrides, runner="local"):
    ok, workdir, report = simulate(str(name), runner=runner, workdir=tmp_path / "run", echo=False, overrides=overrides)
    failed = [s for s in report["steps"] if not s["ok"]]
    if not ok and not report["orphans"] and any(LAUNCH_FLAKE in (s.get("detail") or "") for s in failed):
        ok, workdir, report = simulate(str(name), runner=runner, workdir=tmp_path / "again", echo=False,
                                       overrides=overrides)
        failed = [s for s in report["steps"] if not s["ok"]]
    assert ok, f"failed: {json.dumps(failed, indent=1)}; see {workdir}"
    assert not report["orphans"]
    (event,) = report["events"]
    assert event["status"] == "FINISHED"
    return report, event


def test_the_tutorial_with_medperfs_containers(tmp_path):
    report, event = play(REAL_SCENARIO, tmp_path, Overrides(source=EXAMPLES))
    model = Path(event["output_weights"]) / next(w for w in event["weights"] if w.endswith("/FL_global_model.pt"))
    weights = torch.load(model, weights_only=False)
    tensors = weights.get("model", weights) if isinstance(weights, dict) else weights
    assert tensors and all(torch.isfinite(t).all() for t in tensors.values() if torch.is_tensor(t))


def test_medperfs_prep_with_our_node_and_admin(tmp_path):
    report, event = play("tutorial", tmp_path, Overrides(containers={"prep": REAL_PREP}))
    assert event["rounds_done"] == 3 and "global_model.pt" in event["weights"]


def test_our_prep_with_medperfs_node_and_admin(tmp_path):
    ours = FIXTURES / "containers" / "chestxray_prep"
    report, event = play(REAL_SCENARIO, tmp_path, Overrides(source=EXAMPLES, containers={"prep": ours}))
    assert any(w.endswith("/FL_global_model.pt") for w in event["weights"])


@pytest.mark.docker
def test_the_tutorial_with_medperfs_containers_in_docker(docker_engine, tmp_path):
    report, event = play(REAL_SCENARIO, tmp_path, Overrides(source=EXAMPLES), runner="docker")
    assert any(w.endswith("/FL_global_model.pt") for w in event["weights"])
    assert not run_containers(docker_engine, report["run_id"]), "containers left behind"
