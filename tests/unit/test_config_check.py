"""A container config read against MedPerf's training flow: typos and near misses named with
the file, the line and the closest valid name; MedPerf's and our configs have none."""

import subprocess
from pathlib import Path

import pytest
import yaml

from medperf_lite.containers import check as config_check
from medperf_lite.files import FIXTURES
from tests.compat.conftest import EXAMPLES
from tests.helpers import BIN, cli_env

TYPOS = """container_type: DockerImage
image: me/prep:1
tasks:
  prepare:
    run_args: {command: x}
    input_volumes:
      data_pth: {mount_path: /data, type: directory}
    output_volume:
      output_path: {mount_path: /out, type: directory, mode: rw}
  sanity_chek:
    run_args: {command: x}
  statistics:
    run_args: {command: x}
imag: me/prep:1
"""


def test_each_near_miss_is_named_with_its_line():
    assert config_check.findings(yaml.safe_load(TYPOS), TYPOS, "c.yaml") == [
        "c.yaml:3: a prep container needs the tasks prepare, sanity_check, statistics; missing: sanity_check",
        "c.yaml:7: volume 'data_pth' is not one MedPerf offers to task 'prepare'; did you mean 'data_path'?",
        "c.yaml:8: 'output_volume' is not a key of a task; did you mean 'output_volumes'?",
        "c.yaml:10: task 'sanity_chek' is not one MedPerf's training flow runs; did you mean 'sanity_check'?",
        "c.yaml:14: 'imag' is not a key of a MedPerf container config; did you mean 'image'?",
    ]


def configs():
    found = sorted(FIXTURES.glob("containers/*/container_config.yaml"))
    for examples in (EXAMPLES, EXAMPLES.parent / "medperf-examples-main"):
        found += sorted(examples.glob("**/container_config.yaml")) if examples.is_dir() else []
    return found


@pytest.mark.parametrize("path", configs(), ids=lambda p: "/".join(Path(p).parts[-3:-1]))
def test_medperfs_and_our_configs_have_no_finding(path):
    text = path.read_text()
    assert config_check.findings(yaml.safe_load(text), text, str(path)) == []


def test_submit_warns_and_image_build_strict_refuses(tmp_path):
    folder = tmp_path / "typo"
    folder.mkdir()
    (folder / "container_config.yaml").write_text(TYPOS)
    (folder / "Dockerfile").write_text("FROM python:3.11\n")
    env = cli_env(tmp_path / "home", "testmo@example.com")
    submitted = subprocess.run([str(BIN / "medperf"), "container", "submit", "-n", "t", "-m",
                                str(folder / "container_config.yaml")], env=env, capture_output=True, text=True)
    assert submitted.returncode == 0, submitted.stderr
    assert "Warning: " in submitted.stderr and "did you mean 'sanity_check'?" in submitted.stderr
    strict = subprocess.run([str(BIN / "medperf-lite"), "image", "build", str(folder), "--strict"], env=env,
                            capture_output=True, text=True)
    assert strict.returncode == 1 and strict.stderr.count("\n") == 1, strict.stderr
    assert strict.stderr.startswith(f"Error: {folder}/container_config.yaml:3: a prep container")
    assert "(and 4 more)" in strict.stderr
