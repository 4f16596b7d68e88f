from tests.docker.conftest import docker_engine  # noqa: F401  (the Docker escape tests need the engine)
