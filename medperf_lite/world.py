"""The seeded world: the tutorial's users, container 1 and CA 1 owned by the built-in admin."""

from __future__ import annotations

import importlib.resources
import importlib.util
from pathlib import Path

import yaml

from medperf_lite.rules import Change


def package_data(name: str) -> Path:
    """The folder of medperf_lite's package data ``name`` (fixtures, scenarios): fixtures/ and
    scenarios/ beside the package in a checkout, inside the installed package from a wheel."""
    return Path(str(importlib.resources.files(f"medperf_lite.{name}")))


FIXTURES = package_data("fixtures")


def load_fixture_module(relative: str):
    """Imports a script that lives in fixtures/ (not a package), e.g. the toy data generator."""
    path = FIXTURES / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seed() -> list[Change]:
    users = yaml.safe_load((FIXTURES / "users.yaml").read_text())
    changes: list[Change] = [
        ("users", i, {"email": u["email"], "is_admin": bool(u.get("is_admin"))})
        for i, u in enumerate(users, start=1)
    ]
    ca_container = {"name": "medperf-ca", "owner": 1, "source": None, "parameters": None,
                    "config": {"container_type": "DockerImage", "image": "medperf-lite/ca:builtin",
                               "tasks": {}}}
    changes.append(("containers", 1, ca_container))
    changes.append(("cas", 1, {"name": "MedPerf CA", "owner": 1, "container": 1}))
    return changes
