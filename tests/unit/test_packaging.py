"""The wheel ships every folder of scenarios/ and fixtures/ as package data: each is listed
in pyproject.toml's packages (a folder left out would be silently missing from the wheel)."""

import tomllib

from tests.helpers import REPO


def test_every_data_folder_is_a_listed_package():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    for top in ("fixtures", "scenarios"):
        assert config["package-dir"][f"medperf_lite.{top}"] == top
        for folder in [REPO / top, *(p for p in (REPO / top).rglob("*") if p.is_dir())]:
            if folder.name == "__pycache__":
                continue
            name = "medperf_lite." + ".".join(folder.relative_to(REPO).parts)
            assert name in listed, f"{folder.relative_to(REPO)} is not in pyproject.toml's packages: the wheel would miss it"
    assert config["package-dir"]["medperf_lite.simulator"] == "simulator"
