"""MedPerf's container contract: MedPerf's own example configs, submitted unchanged, get every
volume they declare for every training command, with MedPerf's environment; and the core
knows no FL framework."""

import subprocess
import sys
from pathlib import Path

import pytest

from medperf_lite.containers import contract
from medperf_lite.containers.runners import TaskRun
from medperf_lite.home import Home
from tests.helpers import REPO, medperf

EXAMPLES = REPO.parent / "shared" / "medperf-examples" / "examples"
REAL = {"prep": EXAMPLES / "chestxray_tutorial" / "data_preparator", "fl": EXAMPLES / "nvfl" / "fl" / "node",
        "fl_admin": EXAMPLES / "nvfl" / "fl" / "admin"}
needs_examples = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="../shared/medperf-examples is not beside the repo")


@pytest.fixture(scope="module")
def real_containers(tmp_path_factory):
    """MedPerf's three example configs, submitted byte for byte through the CLI."""
    home = tmp_path_factory.mktemp("home")
    records = {}
    for which, folder in REAL.items():
        params = folder / "workspace" / "parameters.yaml"
        command = f"container submit -n {which} -m {folder / 'container_config.yaml'}"
        command += f" -p {params}" if which == "prep" else ""
        result = medperf(command, home, user="testmo@example.com")
        assert result.returncode == 0, result.stderr
    state = Home(home).store.state()
    for record in state["containers"].values():
        if record["name"] in REAL:
            records[record["name"]] = record
    return records


def offered_paths(step: contract.Step, container: dict, root: Path) -> dict[str, Path]:
    """A host path for every name the command offers, of the kind the task declares."""
    declared = {**container["config"]["tasks"][step.task].get("input_volumes", {}),
                **container["config"]["tasks"][step.task].get("output_volumes", {})}
    paths = {}
    for name in step.offered:
        path = root / name
        if declared.get(name, {}).get("type") == "file":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
        else:
            path.mkdir(parents=True)
        paths[name] = path
    return paths


@needs_examples
@pytest.mark.parametrize("step", [s for s in contract.STEPS if s.task != "update_plan"],
                         ids=lambda s: f"{s.command}/{s.task}")
def test_real_configs_get_every_volume_they_declare(real_containers, step, tmp_path):
    container = real_containers[step.container]
    assert step.task in container["config"]["tasks"], f"MedPerf's {step.container} container has no {step.task}"
    run = TaskRun.of(step, container, offered_paths(step, container, tmp_path), tmp_path / "t.log", "testmo@example.com")
    mounted = {mount for _, mount, _ in run.mounts()}
    spec = container["config"]["tasks"][step.task]
    declared = {v["mount_path"] for kind in ("input_volumes", "output_volumes") for v in (spec.get(kind) or {}).values()}
    assert mounted == declared
    env = run.environment()
    for name in step.env:
        assert env[name] == "testmo@example.com"
    assert (contract.PARTICIPANT_LABEL in env) == (contract.PARTICIPANT_LABEL in step.env)
    assert run.network == step.network


@needs_examples
def test_real_configs_are_stored_unchanged(real_containers):
    import yaml

    for which, folder in REAL.items():
        assert real_containers[which]["config"] == yaml.safe_load((folder / "container_config.yaml").read_text())


def test_offering_outside_the_contract_is_a_bug(tmp_path):
    step = contract.step("dataset train", "train")
    with pytest.raises(ValueError, match="the contract says"):
        TaskRun.of(step, {"name": "c", "config": {"tasks": {}}}, {"data_path": tmp_path}, tmp_path / "l", "x")


def test_importing_medperf_lite_loads_no_fl_framework():
    code = ("import importlib, pkgutil, sys, medperf_lite\n"
            "for m in pkgutil.walk_packages(medperf_lite.__path__, 'medperf_lite.'):\n"
            "    if not m.name.endswith('__main__'):\n"
            "        importlib.import_module(m.name)\n"
            "loaded = sorted(n for n in sys.modules if n.split('.')[0] in ('nvflare', 'flwr'))\n"
            "print(len([m for m in pkgutil.walk_packages(medperf_lite.__path__)]), loaded)\n"
            "assert not loaded, loaded\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[0]) > 10  # the walk really imported the package's modules


MAIN_EXAMPLES = REPO.parent / "shared" / "medperf-examples-main" / "examples"
MAIN_REAL = {"prep": MAIN_EXAMPLES / "chestxray_tutorial" / "data_preparator", "fl": MAIN_EXAMPLES / "flower" / "fl",
             "fl_admin": MAIN_EXAMPLES / "flower" / "fl_admin", "ca": MAIN_EXAMPLES / "fl" / "mock_cert"}
MAIN_REAL.update(client=MAIN_REAL["ca"], server=MAIN_REAL["ca"])  # one mock CA plays the CA record's three roles


@pytest.mark.skipif(not MAIN_EXAMPLES.is_dir(), reason="../shared/medperf-examples-main is not beside the repo")
@pytest.mark.parametrize("step", contract.MAIN_STEPS, ids=lambda s: f"{s.command}/{s.task}")
def test_medperf_mains_real_configs_get_every_volume_they_declare(step, tmp_path):
    """MedPerf main's flow: each command offers what main's own containers declare (the Flower
    FL and admin containers, the mock CA, the prep), with main's environment."""
    import yaml

    config = yaml.safe_load((MAIN_REAL[step.container] / "container_config.yaml").read_text())
    container = {"name": step.container, "config": config, "parameters": None}
    assert step.task in config["tasks"], f"MedPerf main's {step.container} container has no {step.task}"
    given = {name: "v" for name in step.given}
    run = TaskRun.of(step, container, offered_paths(step, container, tmp_path), tmp_path / "t.log",
                     "testdo@example.com", extra_env=given)
    spec = config["tasks"][step.task]
    declared = {v["mount_path"] for kind in ("input_volumes", "output_volumes") for v in (spec.get(kind) or {}).values()}
    if step.task == "start_aggregator":
        declared.discard("/mlcommons/volumes/additional_files")  # always offered: the container's own files
    mounted = {mount for _, mount, _ in run.mounts()} - {"/mlcommons/volumes/additional_files"}
    assert mounted == declared
    env = run.environment()
    assert all(env[name] == "testdo@example.com" for name in step.env) and all(env[n] == "v" for n in step.given)
    assert "fl_workspace" not in step.offered and run.network == step.network


def test_a_command_gives_exactly_the_variables_its_step_names(tmp_path):
    step = contract.step("certificate get_client_certificate", "get_client_cert", "flower")
    with pytest.raises(ValueError, match="the contract says"):
        TaskRun.of(step, {"name": "c", "config": {"tasks": {}}}, {"ca_config": tmp_path, "pki_assets": tmp_path},
                   tmp_path / "l", "x")
