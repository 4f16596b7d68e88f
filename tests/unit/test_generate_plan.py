"""Our node container's generate_plan (NVFlare provisioning from the training config) and
the safe archives startup kits travel in."""

import io
import json
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


def test_fast_clocks_scale_with_the_sites(node, tmp_path):
    def tuned(sites):
        kits = []
        for name in ["server", *[f"col{k}" for k in range(1, sites + 1)]]:
            (tmp_path / name / "startup").mkdir(parents=True, exist_ok=True)
            key = "servers" if name == "server" else "client"
            (tmp_path / name / "startup" / f"fed_{'server' if name == 'server' else 'client'}.json").write_text(
                json.dumps({key: [{}]} if name == "server" else {key: {}}))
            kits.append(tmp_path / name)
        server_config, client_config = {}, {}
        node.tune(kits[0], kits[1:], server_config, "fast", client_config)
        register = json.loads((kits[1] / "startup" / "fed_client.json").read_text())["client"]["client_register_interval"]
        return server_config["server"]["task_request_interval"], register, client_config["max_runner_sync_timeout"]

    assert tuned(2) == (0.1, 0.2, 60.0)  # the tutorial's two sites: the fast clocks as measured
    assert tuned(8) == (0.24, 0.24, 60.0)
    assert tuned(32) == (0.96, 0.96, 160.0)
    assert tuned(40)[:2] == (1.0, 1.0)  # never slower than 1 s


def test_a_job_process_the_client_stopped_itself_is_not_a_site_failure(node, tmp_path):
    (tmp_path / "log.txt").write_text(
        "x - JobExecutor - INFO - run (job-a): child worker process terminated\n"
        "x - JobExecutor - INFO - run (job-a): child worker process finished with RC 1\n")
    watch = node.WorkerWatch(tmp_path)
    assert watch() is None  # NVFlare stopped it (an abort, or a slow exit after the job's end)
    with open(tmp_path / "log.txt", "a") as log:
        log.write("x - JobExecutor - INFO - run (job-b): child worker process finished with RC -9\n")
    assert watch() == "this site's job process of job job-b ended (killed by signal 9); the site left the federation"
