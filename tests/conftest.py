import shutil
from pathlib import Path

import pytest

from medperf_lite.commands import tutorial
from medperf_lite.files import FIXTURES
from medperf_lite.home import Home
from tests.helpers import PORTS, settings_for

SLOW_FOLDERS = ("scenarios", "docker", "plugin", "teaching")  # NVFlare end to end, containers, or whole scenarios


def pytest_collection_modifyitems(items):
    """Tests in tests/scenarios, tests/docker and tests/plugin are slow; `make test-fast` leaves them out."""
    for item in items:
        if Path(str(item.path)).parent.name in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def our_local_images():
    """Our three containers as local images, which the local runner runs them from: built once
    per content in the machine's image store (parallel workers share the build)."""
    from medperf_lite.containers import images
    from medperf_lite.containers.substitutions import SUBSTITUTIONS

    for name in tutorial.CONTAINERS.values():
        images.build_local(FIXTURES / "containers" / name, settings_for(), substitutions=SUBSTITUTIONS, echo=lambda *_: None)


@pytest.fixture(scope="session")
def tutorial_template(tmp_path_factory) -> Path:
    """The tutorial's workspace, made once (toy data included)."""
    root = tmp_path_factory.mktemp("tutorial-template")
    tutorial.init(Home(settings_for()), root, ports=PORTS)
    return root


@pytest.fixture
def workspace(tutorial_template, tmp_path) -> Path:
    """A fresh copy of the tutorial workspace: run the tutorial's commands from here."""
    shutil.copytree(tutorial_template / "medperf_tutorial", tmp_path / "medperf_tutorial")
    return tmp_path


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"
