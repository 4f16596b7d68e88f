"""MedPerf container configs: the good ones load, every bad one names its field."""

import copy

import pytest
import yaml

from medperf_lite.containers import config as container_config
from medperf_lite.errors import MedperfError
from medperf_lite.files import FIXTURES

CONTAINERS = ("chestxray_prep", "nvflare_node", "nvflare_admin")


@pytest.mark.parametrize("name", CONTAINERS)
def test_fixture_configs_load(name):
    config, source = container_config.load(str(FIXTURES / "containers" / name / "container_config.yaml"))
    assert config["tasks"] and source.endswith(name)


def test_real_medperf_config_without_local_section(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({
        "container_type": "DockerImage", "image": "mlcommons/chestxray-tutorial-prep:0.0.1",
        "tasks": {"prepare": {"run_args": {"command": ["python3", "/project/prep.py"]},
                              "input_volumes": {"data_path": {"mount_path": "/mlcommons/volumes/raw_data",
                                                              "type": "directory"}}}}}))
    config, _ = container_config.load(f"file://{path}")
    assert "local" not in config


def good():
    return yaml.safe_load((FIXTURES / "containers" / "chestxray_prep" / "container_config.yaml").read_text())


def broken(change):
    config = copy.deepcopy(good())
    change(config)
    return config


BAD = {
    "not a mapping": (lambda c: None, "top level"),
    "container type": (lambda c: c.update(container_type="Singularity"), "'container_type'"),
    "no image": (lambda c: c.pop("image"), "'image'"),
    "image not a string": (lambda c: c.update(image=3), "'image'"),
    "no tasks": (lambda c: c.pop("tasks"), "'tasks'"),
    "empty tasks": (lambda c: c.update(tasks={}), "'tasks'"),
    "task not a mapping": (lambda c: c["tasks"].update(prepare="run"), "'tasks.prepare'"),
    "no run_args": (lambda c: c["tasks"]["prepare"].pop("run_args"), "'tasks.prepare.run_args'"),
    "no command": (lambda c: c["tasks"]["prepare"]["run_args"].pop("command"), "'tasks.prepare.run_args.command'"),
    "run_args key outside MedPerf's": (lambda c: c["tasks"]["prepare"]["run_args"].update(privileged=True),
                                       "'tasks.prepare.run_args.privileged' is not allowed"),
    "environment not a mapping": (lambda c: c["tasks"]["prepare"]["run_args"].update(environment=["A=1"]),
                                  "run_args.environment"),
    "volume name twice": (lambda c: c["tasks"]["prepare"]["output_volumes"].update(
        data_path={"mount_path": "/elsewhere", "type": "directory"}), "declared twice"),
    "command list of ints": (lambda c: c["tasks"]["prepare"]["run_args"].update(command=[1, 2]),
                             "run_args.command"),
    "volumes not a mapping": (lambda c: c["tasks"]["prepare"].update(input_volumes=["a"]),
                              "'tasks.prepare.input_volumes'"),
    "volume not a mapping": (lambda c: c["tasks"]["prepare"]["input_volumes"].update(data_path="/x"),
                             "'tasks.prepare.input_volumes.data_path'"),
    "relative mount": (lambda c: c["tasks"]["prepare"]["input_volumes"]["data_path"].update(mount_path="data"),
                       "data_path.mount_path"),
    "dotdot mount": (lambda c: c["tasks"]["prepare"]["input_volumes"]["data_path"].update(mount_path="/a/../b"),
                     "data_path.mount_path"),
    "bad type": (lambda c: c["tasks"]["prepare"]["output_volumes"]["output_path"].update(type="socket"),
                 "output_path.type"),
    "mount used twice": (lambda c: c["tasks"]["prepare"]["output_volumes"]["output_path"].update(
        mount_path="/mlcommons/volumes/raw_data"), "used twice"),
    "local not a mapping": (lambda c: c.update(local=["/project"]), "'local'"),
    "local relative path": (lambda c: c.update(local={"project": "project"}), "'local.project'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_configs_name_the_field(case, tmp_path):
    change, expected = BAD[case]
    config = None if case == "not a mapping" else broken(change)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config) if config is not None else "- just\n- a list\n")
    with pytest.raises(MedperfError) as info:
        container_config.load(str(path))
    assert expected in info.value.message and "\n" not in info.value.message


def test_malformed_yaml_and_missing_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("image: [unclosed\n")
    with pytest.raises(MedperfError, match="not valid YAML at line"):
        container_config.load(str(path))
    with pytest.raises(MedperfError, match="cannot read"):
        container_config.load(str(tmp_path / "missing.yaml"))
    with pytest.raises(MedperfError, match="unsupported location"):
        container_config.load("ftp://example.com/c.yaml")
