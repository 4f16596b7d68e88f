"""Containers as MedPerf runs them, one module per idea.

- ``contract``: MedPerf's tables (both branches) as data: per command the task, the mounts it
  offers by MedPerf's volume names, the environment and the network.
- ``config`` and ``check``: ``container_config.yaml`` validated, and read against the flow.
- ``dockerfile``, ``substitutions``, ``pip_options``: a Dockerfile read, and the offline
  substitutions applied to its installs.
- ``images``: the local image store (a venv per image, for the local runner).
- ``docker_build``: the Docker engine's client and the image build.
- ``sandbox``, ``sitenet``, ``runners``: where a task runs: bubblewrap or Docker, on the host's
  network or a site's own.

Nothing here knows the server's records, the CLI or the simulator.
"""
