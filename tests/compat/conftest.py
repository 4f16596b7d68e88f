"""MedPerf's own example containers (../shared/medperf-examples, or MEDPERF_LITE_EXAMPLES),
run unchanged; skipped with a reason where they are absent."""

import os
from pathlib import Path

import pytest
import yaml

from medperf_lite.containers import config as container_config
from medperf_lite.containers import docker_build, images
from tests.docker.conftest import docker_engine  # noqa: F401
from tests.helpers import REPO, settings_for

EXAMPLES = Path(os.environ.get("MEDPERF_LITE_EXAMPLES", REPO.parent / "shared" / "medperf-examples"))
REAL_PREP = EXAMPLES / "examples" / "chestxray_tutorial" / "data_preparator"
REAL_NODE = EXAMPLES / "examples" / "nvfl" / "fl" / "node"
REAL_ADMIN = EXAMPLES / "examples" / "nvfl" / "fl" / "admin"
# NVFlare's launch of a job process in MedPerf's node container fails now and then with RC 1,
# right after gRPC's "Other threads are currently calling into gRPC, skipping fork() handlers"
# (README, "the flaky launch"): the run then fails fast with that cause named. Such a play
# tested nothing but the harness's naming of it, so it is played once more; twice in a row fails.
LAUNCH_FLAKE = "child worker process finished with RC 1"


def pytest_collection_modifyitems(items):
    if not REAL_PREP.is_dir():
        skip = pytest.mark.skip(reason=f"MedPerf's example containers are not at {EXAMPLES}")
        for item in items:
            if "tests/compat" in str(item.path):
                item.add_marker(skip)


def real_container(folder: Path, name: str) -> dict:
    config, source = container_config.load(str(folder / "container_config.yaml"))
    params_file = folder / "workspace" / "parameters.yaml"
    params = yaml.safe_load(params_file.read_text()) if params_file.exists() else None
    return {"name": name, "config": config, "source": source, "parameters": params}


@pytest.fixture(scope="session")
def real_prep_local():
    """MedPerf's prep as a local image (built once; cached by content in the image store)."""
    image, _ = images.build_local(REAL_PREP, settings_for(), echo=lambda *_: None)
    return image


@pytest.fixture(scope="session")
def real_prep_docker(docker_engine):  # noqa: F811
    name, _ = docker_build.build_docker(REAL_PREP, settings_for(), echo=lambda *_: None)
    return name
