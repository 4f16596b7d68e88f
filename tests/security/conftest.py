"""What the security tests share: a host with things a hostile task must not reach, and the
Docker engine for the Docker escape tests."""

import socket

import pytest

from tests.docker.conftest import docker_engine  # noqa: F401


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


