"""Our node container's generate_plan (NVFlare provisioning from the training config) and
the safe archives startup kits travel in."""

import io
import os
import tarfile

import pytest
import yaml

from medperf_lite import archives
from medperf_lite.commands.tutorial import training_config
from medperf_lite.errors import MedperfError
from medperf_lite.world import load_fixture_module

ADMIN = "testmo@example.com"


@pytest.fixture(scope="module")
def node():
    return load_fixture_module("containers/nvflare_node/project/node.py")


@pytest.fixture(scope="module")
def generated(node, tmp_path_factory):
    root = tmp_path_factory.mktemp("plan")
    config = training_config(root / "training_config", "127.0.0.1", (9102, 9103))
    aggregator = root / "aggregator.yaml"
    aggregator.write_text(yaml.safe_dump({"address": "127.0.0.1", "port": [9102, 9103]}))
    (root / "kits").mkdir()
    os.environ["MEDPERF_PARTICIPANT_LABEL"] = ADMIN
    try:
        node.generate_plan(config, aggregator, root / "plan.yaml", root / "kits", root / "metadata.yaml")
    finally:
        del os.environ["MEDPERF_PARTICIPANT_LABEL"]
    return root


def test_kits_keyed_by_email_and_a_plan_with_the_job(generated, tmp_path):
    metadata = yaml.safe_load((generated / "metadata.yaml").read_text())
    assert metadata == {"admin": f"{ADMIN}.tar.gz", "server": "127.0.0.1.tar.gz",
                        "clients": {"testdo@example.com": "col1.tar.gz", "testdo2@example.com": "col2.tar.gz"}}
    server = archives.unpack((generated / "kits" / "127.0.0.1.tar.gz").read_bytes(), tmp_path / "server")
    assert "127.0.0.1:9102" in (server / "startup" / "fed_server.json").read_text()
    client = archives.unpack((generated / "kits" / "col1.tar.gz").read_bytes(), tmp_path / "col1")
    assert "uid=col1" in (client / "startup" / "sub_start.sh").read_text()
    plan = yaml.safe_load((generated / "plan.yaml").read_text())
    assert plan["job_name"] == "chestxray" and plan["meta"]["min_clients"] == 2
    assert {"train.py", "net.py", "medperf_fedavg.py"} <= set(plan["custom"])


@pytest.mark.parametrize("change,why", [
    ({"address": "127.0.0.2", "port": [9102, 9103]}, "names the server '127.0.0.1'"),
    ({"address": "127.0.0.1", "port": [9102, 9104]}, "registered with"),
])
def test_server_must_be_the_registered_aggregator(node, generated, tmp_path, change, why):
    aggregator = tmp_path / "aggregator.yaml"
    aggregator.write_text(yaml.safe_dump(change))
    os.environ["MEDPERF_PARTICIPANT_LABEL"] = ADMIN
    try:
        with pytest.raises(node.NodeError, match=why):
            node.generate_plan(generated / "training_config", aggregator, tmp_path / "p.yaml", tmp_path, tmp_path / "m")
    finally:
        del os.environ["MEDPERF_PARTICIPANT_LABEL"]


def test_admin_must_be_the_caller(node, generated, tmp_path):
    os.environ["MEDPERF_PARTICIPANT_LABEL"] = "testdo@example.com"
    try:
        with pytest.raises(node.NodeError, match="admin must be the experiment owner"):
            node.generate_plan(generated / "training_config", generated / "aggregator.yaml", tmp_path / "p.yaml",
                               tmp_path, tmp_path / "m")
    finally:
        del os.environ["MEDPERF_PARTICIPANT_LABEL"]


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
        archives.unpack(archive_with(name, kind), tmp_path / "kit")
    assert not (tmp_path / "kit").exists()


def test_damaged_archive(generated, tmp_path):
    with pytest.raises(MedperfError, match="damaged"):
        archives.unpack((generated / "kits" / "col1.tar.gz").read_bytes()[:200], tmp_path / "kit")


def test_pack_is_deterministic(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f.txt").write_text("x")
    assert archives.pack(tmp_path / "a") == archives.pack(tmp_path / "a")


def test_round_pause_goes_to_our_controller_only(tmp_path):
    import json

    from medperf_lite.errors import MedperfError

    config = training_config(tmp_path / "ours", "127.0.0.1", (9102, 9103), round_pause=2.5)
    server = json.loads(next(config.glob("jobs/*/*/config/config_fed_server.json")).read_text())
    assert server["workflows"][0]["args"] == {"num_clients": 2, "num_rounds": 3, "round_pause": 2.5}
    untouched = training_config(tmp_path / "plain", "127.0.0.1", (9102, 9103))
    assert "round_pause" not in next(untouched.glob("jobs/*/*/config/config_fed_server.json")).read_text()
    foreign = next(untouched.glob("jobs/*/*/config/config_fed_server.json"))
    foreign.write_text(foreign.read_text().replace("medperf_fedavg.MedperfFedAvg", "theirs.FedAvg"))
    with pytest.raises(MedperfError, match="--round-pause needs medperf-lite's own training config"):
        training_config(tmp_path / "theirs", "127.0.0.1", (9102, 9103), source=untouched, round_pause=1)
