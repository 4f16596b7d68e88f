"""Startup kits: provisioned by NVFlare, unpacked safely, tamper-evident in the store."""

import io
import tarfile

import pytest

from medperf_lite.errors import MedperfError
from medperf_lite.nvflare import kits


@pytest.fixture(scope="module")
def archives():
    return kits.provision(kits.project("exp1", "127.0.0.1", 8102, 8103, ["col1", "col2"], "testmo@example.com"))


def test_one_kit_per_participant(archives, tmp_path):
    assert sorted(archives) == ["127.0.0.1", "col1", "col2", "testmo@example.com"]
    server = kits.unpack(archives["127.0.0.1"], tmp_path / "server")
    assert "127.0.0.1:8102" in (server / "startup" / "fed_server.json").read_text()
    client = kits.unpack(archives["col1"], tmp_path / "col1")
    assert "uid=col1" in (client / "startup" / "sub_start.sh").read_text()


def archive_with(name: str, kind=tarfile.REGTYPE) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
        data = b"x"
        info.size = len(data) if kind == tarfile.REGTYPE else 0
        tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return buffer.getvalue()


@pytest.mark.parametrize("name,kind,why", [
    ("/etc/evil", tarfile.REGTYPE, "unsafe path"),
    ("startup/../../evil", tarfile.REGTYPE, "unsafe path"),
    ("startup/link", tarfile.SYMTYPE, "not a plain file"),
])
def test_unsafe_archives_are_refused(name, kind, why, tmp_path):
    with pytest.raises(MedperfError, match=why):
        kits.unpack(archive_with(name, kind), tmp_path / "kit")
    assert not (tmp_path / "kit").exists()


def test_damaged_archive_and_non_kit(archives, tmp_path):
    with pytest.raises(MedperfError, match="damaged"):
        kits.unpack(archives["col1"][:200], tmp_path / "kit")
    with pytest.raises(MedperfError, match="no startup/ folder"):
        kits.unpack(archive_with("readme.txt"), tmp_path / "kit2")


def test_pack_is_deterministic(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f.txt").write_text("x")
    assert kits.pack(tmp_path / "a") == kits.pack(tmp_path / "a")
