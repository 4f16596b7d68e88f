"""MedPerf's real data-preparation container, unchanged, on toy data: it runs in the local
runner from its local image and in Docker from its image built on our base, with
byte-identical outputs, and its outputs have the names, shapes and dtypes of our prep's."""

import hashlib

import numpy as np
import pytest
import yaml

from medperf_lite.commands.tutorial import toy_data
from medperf_lite.errors import MedperfError
from tests.compat.conftest import REAL_PREP, real_container
from tests.unit.test_local_runner import run_prep


def run_real(raw, out, runner):
    return run_prep(out, raw, runner, real_container(REAL_PREP, "real-prep"), out)


def arrays(folder):
    return {p.relative_to(folder).as_posix(): np.load(p) for p in sorted(folder.rglob("*.npy"))}


def digests(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and (p.suffix == ".npy" or p.name == "stats.yaml")}


def test_real_prep_runs_locally_like_ours(real_prep_local, tmp_path):
    raw = toy_data().generate(tmp_path / "raw", "col1", images=60)
    real = arrays(run_real(raw, tmp_path / "real", "local"))
    ours = arrays(run_prep(tmp_path, raw))
    assert len(real) == 2 * 60 and real.keys() == ours.keys()
    for name, array in real.items():
        assert (array.shape, array.dtype.kind) == (ours[name].shape, ours[name].dtype.kind), name
    stats = yaml.safe_load((tmp_path / "real" / "stats.yaml").read_text())
    assert stats, "the real statistics task wrote nothing"


def test_real_prep_without_its_image_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDPERF_LITE_IMAGES", str(tmp_path / "empty-store"))
    from medperf_lite import settings

    monkeypatch.setattr(settings, "_current", None)
    raw = toy_data().generate(tmp_path / "raw", "col1", images=3)
    with pytest.raises(MedperfError, match=r"image mlcommons/chestxray-tutorial-prep:0.0.1 is not built for the "
                                           r"local runner; run 'medperf-lite image build .*data_preparator'"):
        run_real(raw, tmp_path / "out", "local")


@pytest.mark.docker
def test_real_prep_in_docker_is_byte_identical(real_prep_local, real_prep_docker, tmp_path):
    raw = toy_data().generate(tmp_path / "raw", "col1", images=60)
    local = digests(run_real(raw, tmp_path / "local", "local"))
    docker = digests(run_real(raw, tmp_path / "docker", "docker"))
    assert len(local) == 2 * 60 + 1 and docker == local
