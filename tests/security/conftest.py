"""What the security tests share: a host with things a hostile task must not reach, and the
Docker engine for the Docker escape tests."""

import socket

import pytest

from medperf_lite import settings
from medperf_lite.containers import images
from tests.docker.conftest import docker_engine  # noqa: F401
from tests.helpers import settings_for


@pytest.fixture(scope="session")
def hostile_store(tmp_path_factory):
    """An image store holding the local image 'hostile': a MedPerf container folder whose
    Dockerfile copies nothing, so its tasks see only the sandbox's system."""
    folder = tmp_path_factory.mktemp("hostile-image")
    (folder / "container_config.yaml").write_text("image: hostile\ntasks: {}\n")
    (folder / "Dockerfile").write_text("FROM scratch\n")
    store = tmp_path_factory.mktemp("image-store")
    images.build_local(folder, settings_for(images=store), echo=lambda *_: None)
    return store


@pytest.fixture
def hostile_image(hostile_store, monkeypatch):
    monkeypatch.setenv("MEDPERF_LITE_IMAGES", str(hostile_store))
    monkeypatch.setattr(settings, "_current", None)


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    """Another user's local storage, a home, a UNIX socket, a listening port, a marker in the
    host's /tmp and an input folder."""
    root = tmp_path_factory.mktemp("host")
    secret = root / "home" / "users" / "other@example.com" / "datasets" / "1" / "local.yaml"
    secret.parent.mkdir(parents=True)
    secret.write_text("data_path: /their/data\n")
    sock_path = root / "service.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    marker = root / "host-tmp-marker"
    marker.write_text("x")
    (root / "in").mkdir()
    yield {"secret": secret, "home": root / "home", "sock": sock_path, "port": listener.getsockname()[1],
           "host_tmp_marker": marker, "root": root}
    server.close()
    listener.close()


