"""MedPerf main's certificates through the real CLI: our CA and MedPerf main's own mock CA
(run unchanged), the fingerprint check, and refusals of a certificate from another CA, for
someone else, or from the wrong flow; keys stay in the user's storage, only certificates
reach the server."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from medperf_lite import world
from tests.docker.conftest import docker_engine  # noqa: F401
from tests.helpers import BIN, REPO, cli_env, medperf, tree_digest

MAIN_EXAMPLES = Path(os.environ.get("MEDPERF_LITE_EXAMPLES_MAIN", REPO.parent / "shared" / "medperf-examples-main"))
MOCK_CA = MAIN_EXAMPLES / "examples" / "fl" / "mock_cert"
DO, DO2, MO = "testdo@example.com", "testdo2@example.com", "testmo@example.com"


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def refused(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode != 0, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr


def lite(command: list[str], home: Path) -> str:
    return ok(subprocess.run([str(BIN / "medperf-lite"), *command], env=cli_env(home), capture_output=True, text=True,
                             timeout=600, cwd=home.parent))


@pytest.fixture
def home(tmp_path) -> Path:
    home = tmp_path / "home"
    lite(["tutorial", "init", str(tmp_path), "--flow", "flower", "--images", "4"], home)
    return home


def pki(home: Path, email: str, ca: int, key_type: str = "EC") -> Path:
    encoded = base64.b64encode(email.encode()).decode().rstrip("=")
    signing = ("signing",) if key_type == "EC" else ()
    return home / "users" / email / ".medperf_config" / ".pki_assets" / Path(*signing) / encoded / str(ca)


def test_a_data_owner_gets_submits_checks_and_deletes_a_certificate(home):
    view = ok(medperf("profile view", home, DO))
    assert "flow: flower" in view and f"certificate_authority_fingerprint: {world.ca_fingerprint()}" in view
    assert ok(medperf("certificate check_client_certificate --key_type EC", home, DO)).startswith("No certificates found.")
    ok(medperf("certificate get_client_certificate --key_type EC", home, DO))
    folder = pki(home, DO, 1)
    assert sorted(p.name for p in folder.iterdir()) == ["crt.crt", "key.key"]
    assert (folder / "key.key").stat().st_mode & 0o077 == 0  # the key is its owner's alone
    refused(medperf("certificate get_client_certificate --key_type EC", home, DO),
            "Cert and key already present. Rerun the command with --overwrite")
    assert "not submitted" in ok(medperf("certificate check_client_certificate --key_type EC", home, DO))
    out = ok(medperf("certificate submit_client_certificate --key_type EC -y", home, DO))
    assert "Certificate uploaded (ID 1)" in out and "✅ Done!" in out
    db = json.loads((home / "server" / "db.json").read_text())
    (cert,) = db["certificates"].values()
    assert base64.b64decode(cert["content"]) == (folder / "crt.crt").read_bytes() and cert["key_type"] == "EC"
    key = (folder / "key.key").read_bytes()
    assert not any(key in p.read_bytes() for p in (home / "server").rglob("*") if p.is_file())  # no key on the server
    assert "already submitted" in ok(medperf("certificate check_client_certificate --key_type EC", home, DO))
    before = tree_digest(home / "server")
    refused(medperf("certificate submit_client_certificate --key_type EC -y", home, DO),
            "you already have a valid EC certificate on the server")
    assert tree_digest(home / "server") == before
    assert "Certificate 1 invalidated" in ok(medperf("certificate delete_client_certificate --key_type EC -y", home, DO))
    assert not folder.exists()
    assert "No certificates found." in ok(medperf("certificate check_client_certificate --key_type EC", home, DO))


def test_someone_elses_or_another_cas_certificate_is_refused(home, tmp_path):
    ok(medperf("certificate get_client_certificate --key_type EC", home, DO))
    ok(medperf("certificate get_client_certificate --key_type EC", home, DO2))
    mine, theirs = pki(home, DO2, 1), pki(home, DO, 1)
    (mine / "crt.crt").write_bytes((theirs / "crt.crt").read_bytes())  # DO2 offers DO's certificate
    before = tree_digest(home / "server")
    refused(medperf("certificate submit_client_certificate --key_type EC -y", home, DO2),
            f"the certificate is for '{DO}', not for you ({DO2})")
    other = tmp_path / "other"  # a certificate from a CA of the same name, but another root key
    other_ca = other / "ca"
    shutil.copytree(world.CA_FOLDER / "project", other_ca)
    subprocess.run([str(BIN / "python"), str(other_ca / "ca.py"), "new_root"], check=True, capture_output=True)
    env = {**os.environ, "MEDPERF_INPUT_CN": DO2, "MEDPERF_KEY_TYPE": "EC"}
    issued = subprocess.run([str(BIN / "python"), "-c", (
        "import sys, pathlib; sys.path.insert(0, sys.argv[1]); import ca; ca.PKI = pathlib.Path(sys.argv[2]); "
        "ca.issue(sys.argv[3], 'EC', False)"), str(other_ca), str(other / "pki"), DO2], env=env, capture_output=True,
        text=True)
    assert issued.returncode == 0, issued.stderr
    (mine / "crt.crt").write_bytes((other / "pki" / "crt.crt").read_bytes())
    refused(medperf("certificate submit_client_certificate --key_type EC -y", home, DO2),
            "the certificate was not issued by CA 1")
    assert tree_digest(home / "server") == before


def test_a_wrong_fingerprint_the_wrong_flow_and_a_server_certificate_for_others(home, tmp_path):
    ok(medperf("profile set --certificate_authority_fingerprint 00ff", home, DO))
    refused(medperf("certificate get_client_certificate --key_type EC", home, DO),
            "CA 1's fingerprint does not match your profile's certificate_authority_fingerprint")
    ok(medperf(f"profile set --certificate_authority_fingerprint={world.ca_fingerprint()}", home, DO))
    refused(medperf("profile set --server https://x", home, DO), "medperf-lite profiles have no option --server")
    refused(medperf("certificate get_client_certificate -t 1", home, MO), "this home follows MedPerf main's flow, "
            "which has no startup kits; there it is 'medperf certificate get_client_certificate --key_type EC'")
    refused(medperf("certificate get_client_certificate -t 1 --key_type EC", home, MO), "give -t/--training_exp_id")
    ok(medperf("aggregator submit -n agg -a 127.0.0.1 -p 50273 --admin-port 50274 -m 1", home, "testao@example.com"))
    refused(medperf("certificate get_server_certificate -a 1", home, MO), "only the owner of aggregator 1")
    out = ok(medperf("certificate get_server_certificate -a 1", home, "testao@example.com"))
    server = pki(home, "testao@example.com", 1, "RSA").parent.parent / base64.b64encode(b"127.0.0.1").decode().rstrip("=")
    assert "The aggregator's key and certificate are in" in out and (server / "1" / "crt.crt").is_file()
    nv = tmp_path / "nv"
    nv.mkdir()
    lite(["tutorial", "init", str(nv), "--images", "4", "--no-build"], nv / "home")
    refused(medperf("certificate get_client_certificate --key_type EC", nv / "home", DO),
            "this home follows MedPerf's NVFlare flow, where it is 'medperf certificate get_client_certificate -t EXP'")


@pytest.mark.skipif(not MOCK_CA.is_dir(), reason=f"MedPerf main's example containers are not at {MAIN_EXAMPLES}")
def test_medperf_mains_mock_ca_runs_unchanged(home):
    ok(medperf("certificate get_client_certificate --key_type EC", home, DO2))  # from CA 1, ours
    lite(["image", "build", str(MOCK_CA)], home)
    ok(medperf(f"container submit -n mockca -m {MOCK_CA / 'container_config.yaml'}", home, MO))
    ok(medperf(f"ca submit -n mock -c {MOCK_CA / 'workspace' / 'ca_config.json'} --ca-container 2 "
               "--client-container 2 --server-container 2", home, MO))
    ok(medperf("profile set --certificate_authority_id 2 --certificate_authority_fingerprint fingerprint", home, DO))
    ok(medperf("certificate get_client_certificate --key_type EC", home, DO))
    assert "BEGIN CERTIFICATE" in (pki(home, DO, 2) / "crt.crt").read_text()
    assert "Certificate uploaded" in ok(medperf("certificate submit_client_certificate --key_type EC -y", home, DO))
    target = pki(home, DO2, 2)  # DO2 offers CA 1's certificate as the mock's
    target.mkdir(parents=True)
    for name in ("crt.crt", "key.key"):
        shutil.copy(pki(home, DO2, 1) / name, target / name)
    before = tree_digest(home / "server")
    refused(medperf("certificate submit_client_certificate --key_type EC -y", home, DO2),
            "the certificate was not issued by CA 2")  # the mock's own verify_cert checks only that the file exists
    assert tree_digest(home / "server") == before


@pytest.mark.docker
def test_both_cas_in_docker(home, docker_engine):  # noqa: F811
    docker = {"MEDPERF_LITE_RUNNER": "docker"}
    ok(medperf("certificate get_client_certificate --key_type EC", home, DO, **docker))
    assert "Certificate uploaded" in ok(medperf("certificate submit_client_certificate --key_type EC -y", home, DO,
                                                **docker))
    if not MOCK_CA.is_dir():
        pytest.skip(f"MedPerf main's example containers are not at {MAIN_EXAMPLES}")
    lite(["image", "build", str(MOCK_CA), "--for", "docker"], home)
    ok(medperf(f"container submit -n mockca -m {MOCK_CA / 'container_config.yaml'}", home, MO))
    ok(medperf(f"ca submit -n mock -c {MOCK_CA / 'workspace' / 'ca_config.json'} --ca-container 2 "
               "--client-container 2 --server-container 2", home, MO))
    ok(medperf("profile set --certificate_authority_id 2 --certificate_authority_fingerprint fingerprint", home, DO2))
    ok(medperf("certificate get_client_certificate --key_type EC", home, DO2, **docker))
    assert "Certificate uploaded" in ok(medperf("certificate submit_client_certificate --key_type EC -y", home, DO2,
                                                **docker))


MAIN_FL = MAIN_EXAMPLES / "examples" / "flower" / "fl"


@pytest.mark.skipif(not MAIN_FL.is_dir(), reason=f"MedPerf main's example containers are not at {MAIN_EXAMPLES}")
def test_mains_experiment_plan_and_event_with_its_real_fl_container(home, tmp_path):
    """MedPerf main's cli_tests_training.sh steps 1-6, with its real FL container's generate_plan
    (built with the shipped substitutions: flwr from its base image, torch 2.13.0)."""
    lite(["image", "build", str(MAIN_FL), "--substitutions", str(REPO / "fixtures/containers/substitutions.txt")], home)
    prep = home.parent / "medperf_tutorial" / "containers" / "prep" / "container_config.yaml"
    ok(medperf(f"container submit -n prep -m {prep}", home, MO))
    ok(medperf(f"container submit -n fl -m {MAIN_FL / 'container_config.yaml'}", home, MO))
    ok(medperf("training submit -n fexp -d d -p 2 -m 3", home, MO))
    ok(medperf("aggregator submit -n agg -a 127.0.0.1 -p 50273 --admin-port 50274 -m 3", home, "testao@example.com"))
    config = MAIN_FL / "workspace" / "training_config.yaml"
    refused(medperf(f"training set_plan -t 1 -c {config} -y", home, MO),
            "training experiment 1 has no aggregator; run 'medperf training set_aggregator' first")
    refused(medperf("aggregator associate -a 1 -t 1 -y", home, MO), "where 'aggregator associate' does not exist")
    assert "Aggregator 1 set" in ok(medperf("training set_aggregator -t 1 -a 1 -y", home, MO))
    refused(medperf(f"training set_plan -t 1 -c {MAIN_FL / 'workspace'} -y", home, MO),
            "(MedPerf main's -c is a YAML file)")
    out = ok(medperf(f"training set_plan -t 1 -c {config} -y --show-plan", home, MO))  # the whole plan, as MedPerf
    assert "admin_port: 50274" in out and "num-server-rounds: 2" in out and "Plan set for training experiment 1: 2 rounds" in out
    assert "The plan: 2 rounds; sha256 " in out
    cols = tmp_path / "cols.yaml"
    cols.write_text(f"{DO}: {DO}\n{DO2}: {DO2}\n")
    ok(medperf(f"training start_event -t 1 -n ev1 -p {cols} -y", home, MO))
    db = json.loads((home / "server" / "db.json").read_text())
    assert db["experiments"]["1"]["state"] == "DEVELOPMENT" and db["experiments"]["1"]["aggregator"] == 1
    refused(medperf("aggregator start -t 1 -p 127.0.0.1", home, "testao@example.com"),
            f"No signing certificate found for participant {DO2} ({DO2})")  # the store keeps them sorted
    refused(medperf("training close_event -t 1 -y", home, MO), "has written no report yet")
    refused(medperf("training cancel_event -t 1 -y", home, MO), "needs the report to close the event with")
    report = tmp_path / "report.yaml"
    report.write_text("IsDone: 0\n")
    ok(medperf(f"training cancel_event -t 1 -r {report} -y", home, MO))
    before = tree_digest(home / "server")
    refused(medperf(f"training start_event -t 1 -n ev1 -p {cols} -y", home, MO), "an event named 'ev1' already exists")
    assert tree_digest(home / "server") == before


def test_a_containers_additional_files_reach_its_tasks(home, tmp_path):
    """MedPerf's `container submit -a` (main's FL container gets its initial weights so): a local
    .tar.gz, its hash checked and its members safe, unpacked for the tasks as additional_files."""
    import hashlib
    import io
    import tarfile

    from medperf_lite import archives
    from medperf_lite.commands import Session
    from medperf_lite.commands.nodes import run_step
    from medperf_lite.home import Home
    from medperf_lite.settings import Settings

    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "initial_model.pt").write_bytes(b"model bytes")
    tarball = tmp_path / "init_weights.tar.gz"
    tarball.write_bytes(archives.pack(weights))
    src = tmp_path / "fl"
    (src / "project").mkdir(parents=True)
    config = src / "container_config.yaml"
    config.write_text("container_type: DockerImage\nimage: probe-fl\nlocal: {/project: project}\ntasks:\n"
                      "  generate_plan:\n    run_args: {command: sh -c 'cat /mlcommons/volumes/additional_files/"
                      "initial_model.pt > /mlcommons/volumes/plan/plan.yaml'}\n"
                      "    input_volumes: {additional_files: {mount_path: /mlcommons/volumes/additional_files, "
                      "type: directory}}\n"
                      "    output_volumes: {plan_path: {mount_path: /mlcommons/volumes/plan/plan.yaml, type: file}}\n")
    refused(medperf(f"container submit -n fl -m {config} -a https://example.org/w.tar.gz", home, MO),
            "nothing is downloaded here; give the tarball's path")
    refused(medperf(f"container submit -n fl -m {config} -a {tarball} --additional-hash {'0' * 64}", home, MO),
            "not the expected")
    unsafe = tmp_path / "unsafe.tar.gz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    unsafe.write_bytes(buffer.getvalue())
    refused(medperf(f"container submit -n fl -m {config} -a {unsafe}", home, MO), "unsafe path '../escape.txt'")
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    ok(medperf(f"container submit -n fl -m {config} -a file://{tarball} --additional-hash {digest}", home, MO))
    session = Session(Home(config=Settings.load(cli_env(home))), MO)
    record = session.state()["containers"][2]
    assert record["additional"] == digest and record["source"]
    plan = tmp_path / "out" / "plan.yaml"
    run_step(session, "training set_plan", "generate_plan", record,
             {"training_config_path": tmp_path / "t.yaml", "aggregator_config_path": tmp_path / "a.yaml",
              "plan_path": plan}, tmp_path / "g.log")
    assert plan.read_bytes() == b"model bytes"


@pytest.mark.slow
def test_a_sites_error_in_a_flower_round_ends_the_run_with_its_cause(tmp_path):
    """A ClientApp that raises at round 1: the run ends at once, the cause named (the
    exception, the author's line), nothing left running."""
    import re

    from medperf_lite.simulator.engine import simulate
    from medperf_lite.simulator.scenario import Overrides

    broken = tmp_path / "fl"
    shutil.copytree(world.FIXTURES / "containers" / "flower_node", broken)
    app = broken / "project" / "app" / "medperf_app" / "client_app.py"
    text = app.read_text()
    anchor = "    started = time.process_time()\n"
    assert anchor in text
    app.write_text(text.replace(anchor, anchor + "    started *= weight_decay_factor  # noqa: F821\n"))
    ok, workdir, report = simulate("flower_tutorial", workdir=tmp_path / "run", echo=False,
                                   overrides=Overrides(containers={"fl": broken}))
    failed = next(s for s in report["steps"] if not s["ok"])
    assert not ok and not report["orphans"], failed
    assert failed["name"] == "first round done" and "timed out" not in failed["detail"], failed
    assert re.search(r"NameError: name 'weight_decay_factor' is not defined", failed["detail"]), failed["detail"]
    assert re.search(r"medperf_app/client_app\.py:\d+", failed["detail"]), failed["detail"]  # the author's line
    if report["network"]["mode"] == "sites":  # each site in its namespace; none left after the failure
        assert len(report["network"]["sites"]) >= 4
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert report["network"]["names"] not in listed
