import os

import pytest
import yaml

from medperf_lite.errors import MedperfError
from medperf_lite.files import FIXTURES


def _engine_or_reason():
    from medperf_lite.containers.docker_build import engine as client

    try:
        engine = client()
    except MedperfError as e:
        return None, e.message
    import docker.errors

    for name in ("chestxray_prep", "nvflare_node", "nvflare_admin", "medperf_ca"):
        image = yaml.safe_load((FIXTURES / "containers" / name / "container_config.yaml").read_text())["image"]
        try:
            engine.images.get(image)
        except docker.errors.ImageNotFound:
            return None, f"image {image} is not built (run 'make images')"
    return engine, None


@pytest.fixture(scope="session")
def docker_engine():
    engine, reason = _engine_or_reason()
    if engine is None:
        message = f"Docker tests need an engine and the images: {reason}"
        if os.environ.get("MEDPERF_LITE_REQUIRE_DOCKER"):  # CI: a missing engine is a failure, not a skip
            pytest.fail(message)
        pytest.skip(message)
    return engine
