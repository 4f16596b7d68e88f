"""The tutorial's sections typed verbatim against the real CLI (no NVFlare run here)."""

import json
import subprocess

import yaml

from tests.helpers import PORTS, cli_env, medperf

MO, DO, DO2 = "testmo@example.com", "testdo@example.com", "testdo2@example.com"

SECTIONS_1_2_3 = [
    ('container submit --name prep --container-config-file "medperf_tutorial/containers/prep/container_config.yaml" '
    '--parameters-file "medperf_tutorial/containers/prep/parameters.yaml"'),
    'container submit --name trainer --container-config-file "medperf_tutorial/containers/trainer/container_config.yaml"',
    ('container submit --name trainadmin '
    '--container-config-file "medperf_tutorial/containers/trainadmin/container_config.yaml"'),
    "training submit --name trainexp --description trainexp --prep-container 2 --fl-container 3 --fl-admin-container 4",
    "ca associate -t 1 -c 1 -y",
    f"aggregator submit --name myaggreg --aggregation-container 3 --address 127.0.0.1 --port {PORTS[0]} "
    f"--port {PORTS[1]}",
    "aggregator associate --aggregator_id 1 --training_exp_id 1",
    'training set_plan --training_exp_id 1 --config-path "medperf_tutorial/training_config"',
]


def run_ok(command, home, cwd, user=None, **kw):
    result = medperf(command, home, user=user, cwd=cwd, **kw)
    assert result.returncode == 0, f"{command}: {result.stderr}"
    return result.stdout


def admin_setup(home, cwd):
    run_ok("auth login -e testmo@example.com", home, cwd)
    for command in SECTIONS_1_2_3:  # set_plan shows the plan and asks; the tutorial's reader answers yes
        out = run_ok(command, home, cwd, input="y\n" if "set_plan" in command else None)
        if "set_plan" in command:  # the plan's summary stays beside its question (--show-plan: all of it)
            before = out.split("Set this plan for training experiment 1? [y/N]")[0].splitlines()
            assert 0 < len(before) <= 15 and before[0].startswith("The plan: job chestxray, 3 rounds"), out


def test_sections_1_to_3_give_the_tutorials_ids(workspace, home):
    admin_setup(home, workspace)
    containers = json.loads(run_ok("container ls --mine --format json", home, workspace))
    assert [(c["id"], c["name"]) for c in containers] == [(2, "prep"), (3, "trainer"), (4, "trainadmin")]
    exps = json.loads(run_ok("training ls --mine --format json", home, workspace))
    assert [(e["id"], e["approval_status"]) for e in exps] == [(1, "APPROVED")]
    aggs = json.loads(run_ok("aggregator ls --mine --format json", home, workspace))
    assert [(a["id"], a["fl_port"], a["admin_port"]) for a in aggs] == [(1, *PORTS)]
    plan = yaml.safe_load(run_ok("training view 1", home, workspace))["plan"]
    assert plan["min_clients"] == 2 and plan["num_rounds"] == 3 and plan["job_name"] == "chestxray"
    kits = {k["email"] for k in yaml.safe_load((home / "server" / "db.json").read_text())["kits"].values()}
    assert kits == {None, DO, DO2}  # the server's kit and each data owner's, keyed by e-mail
    assert (home / "users" / MO / "training" / "exp1" / "admin_workspace" / "startup").is_dir()


def test_wrong_user_is_refused_and_nothing_changes(workspace, home):
    admin_setup(home, workspace)
    db = home / "server" / "db.json"
    for command in ['training set_plan --training_exp_id 1 --config-path "medperf_tutorial/training_config"',
                    "ca associate -t 1 -c 1 -y",
                    "aggregator associate --aggregator_id 1 --training_exp_id 1",
                    ("training start_event --name e --training_exp_id 1 "
                    "--participants_list_file medperf_tutorial/cols_list.yaml -y"),
                    "training submit_job --training_exp_id 1",
                    "training close_event --training_exp_id 1 -y"]:
        before = db.read_bytes()
        result = medperf(command, home, user=DO, cwd=workspace)
        assert result.returncode != 0
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        assert db.read_bytes() == before


def test_login_rules(home, tmp_path):
    assert medperf("auth login -e nobody@example.com", home).stderr.startswith("Error: unknown user")
    run_ok("auth login -e testmo@example.com", home, tmp_path)
    again = medperf("auth login -e testdo@example.com", home)
    assert again.returncode != 0 and "auth logout" in again.stderr
    run_ok("auth logout", home, tmp_path)
    assert medperf("container ls", home).stderr.startswith("Error: you are not logged in")


def test_profiles_keep_their_own_login(home, tmp_path):
    run_ok("auth login -e testmo@example.com", home, tmp_path)
    run_ok("profile create -n owner", home, tmp_path)
    run_ok("profile activate owner", home, tmp_path)
    run_ok("auth login -e testdo@example.com", home, tmp_path)
    assert run_ok("auth status", home, tmp_path).strip() == DO
    run_ok("profile activate default", home, tmp_path)
    assert run_ok("auth status", home, tmp_path).strip() == MO
    assert "owner" in run_ok("profile ls", home, tmp_path)


def test_prompt_refused_changes_nothing(workspace, home):
    admin_setup(home, workspace)
    db = home / "server" / "db.json"
    before = db.read_bytes()
    command = ("dataset submit --data_prep 2 --data_path medperf_tutorial/col1 --labels_path medperf_tutorial/col1 "
               "--name col1data --description d --location here")
    for answer in ("", "n\n"):
        result = medperf(command, home, user=DO, cwd=workspace, input=answer)
        assert result.returncode != 0 and "cancelled" in result.stderr
        assert db.read_bytes() == before
    assert medperf(command, home, user=DO, cwd=workspace, input="y\n").returncode == 0


def test_section_5_for_both_data_owners(workspace, home):
    admin_setup(home, workspace)
    for ds, (user, site) in enumerate([(DO, "col1"), (DO2, "col2")], start=1):
        run_ok(f"dataset submit --data_prep 2 --data_path medperf_tutorial/{site} "
               f"--labels_path medperf_tutorial/{site} --name {site}data --description \"some data\" "
               "--location mymachine -y", home, workspace, user=user)
        run_ok(f"dataset prepare --data_uid {ds}", home, workspace, user=user)
        run_ok(f"dataset set_operational --data_uid {ds} -y", home, workspace, user=user)
    datasets = json.loads(run_ok("dataset ls --format json", home, workspace, user=MO))
    assert [d["state"] for d in datasets] == ["OPERATION", "OPERATION"]
    for ds, user in ((1, DO), (2, DO2)):  # each owner sees their statistics
        stats = yaml.safe_load(run_ok(f"dataset view {ds}", home, workspace, user=user))["statistics"]
        assert stats["num_cases"] > 0 and stats["image_size"] == [28, 28, 1]
        assert sum(stats["labels_count"].values()) == stats["num_cases"]


def test_usage_errors_print_the_usage_and_exit_2(home, tmp_path):
    for command in ("dataset prepare", "dataset prepare -d x", "dataset prepare -d 1 --bogus", ""):
        result = medperf(command, home, user=DO, cwd=tmp_path)
        assert result.returncode == 2, (command, result.stderr)
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr
        assert "Usage: medperf" in result.stdout + result.stderr


def test_dataset_details_are_visible_to_their_owner_and_the_experiment_owner_only(workspace, home):
    admin_setup(home, workspace)
    run_ok("dataset submit -p 2 -d medperf_tutorial/col1 -l medperf_tutorial/col1 -n col1 --description d "
           "--location secret-site -y", home, workspace, user=DO)
    mine = yaml.safe_load(run_ok("dataset view 1", home, workspace, user=DO))
    assert mine["location"] == "secret-site" and len(mine["data_hash"]) == 64
    for viewer in (DO2, MO):  # the experiment owner too, until the dataset asks to join
        other = yaml.safe_load(run_ok("dataset view 1", home, workspace, user=viewer))
        assert other["location"] == other["data_hash"] == other["statistics"] == "(hidden)", viewer
    listed = json.loads(run_ok("dataset ls --format json", home, workspace, user=DO2))
    assert listed[0]["location"] == "(hidden)"
    run_ok("dataset prepare -d 1", home, workspace, user=DO)
    run_ok("dataset set_operational -d 1 -y", home, workspace, user=DO)
    run_ok("dataset associate -d 1 -t 1 -y", home, workspace, user=DO)
    assert yaml.safe_load(run_ok("dataset view 1", home, workspace, user=MO))["location"] == "secret-site"
    assert yaml.safe_load(run_ok("dataset view 1", home, workspace, user=DO2))["location"] == "(hidden)"
    plan = yaml.safe_load(run_ok("training view 1", home, workspace, user=DO2))["plan"]
    assert plan == "(hidden)"  # not a participant of any event of experiment 1


def test_the_second_owners_shortcut_can_be_run_again(workspace, home, tmp_path):
    """The shortcut skips the steps already done; its last step (the training node) is stood in
    for by a stub that records its arguments, so no federation is needed."""
    import os
    import stat
    import subprocess

    from tests.helpers import BIN, cli_env

    admin_setup(home, workspace)
    run_ok("training start_event --name e1 --training_exp_id 1 --participants_list_file medperf_tutorial/cols_list.yaml"
           " -y", home, workspace)
    stub = tmp_path / "bin" / "medperf"
    stub.parent.mkdir()
    stub.write_text(f'#!/usr/bin/env bash\nif [ "$1 $2" = "dataset train" ]; then echo "TRAIN $*"; exit 0; fi\n'
                    f'exec {BIN / "medperf"} "$@"\n')
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    env = cli_env(home, PATH=f"{stub.parent}:{os.environ['PATH']}")
    runs = [subprocess.run(["bash", "medperf_tutorial/collab_shortcut.sh"], cwd=workspace, env=env, capture_output=True,
                           text=True, timeout=300) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[-1].stderr
    assert "Dataset registered with ID 1" in runs[0].stdout
    assert "Dataset col2data is already registered with ID 1" in runs[1].stdout
    assert runs[1].stdout.rstrip().endswith("TRAIN dataset train --data_uid 1 --training_exp_id 1 -y --overwrite")
    datasets = json.loads(run_ok("dataset ls --format json", home, workspace, user=DO2))
    assert [(d["id"], d["name"], d["state"], d["prepared"]) for d in datasets] == [(1, "col2data", "OPERATION", True)]


def test_status_and_view_show_a_closed_event(workspace, home):
    """Without an open event, status shows the last event's results; view lists every event."""
    admin_setup(home, workspace)
    run_ok("training start_event --name e1 --training_exp_id 1 --participants_list_file medperf_tutorial/cols_list.yaml"
           " -y", home, workspace)
    report = workspace / "report.yaml"
    report.write_text(yaml.safe_dump({"num_rounds": 3, "rounds_done": 3, "history": [
        {"round": 1, "global_val_acc": 0.5}, {"round": 3, "global_val_acc": 0.81234}]}))
    run_ok(f"training cancel_event -t 1 -r {report} -y", home, workspace)
    status = yaml.safe_load(run_ok("training get_experiment_status -t 1", home, workspace))
    last = status["last_event"]
    assert status["open_event"] is None and last["name"] == "e1" and last["rounds"] == "3 of 3"
    assert last["status"] == "CANCELLED" and last["global_val_acc"] == 0.8123
    assert "model" not in last  # cancelled: the federation was not stopped, nothing was downloaded
    events = yaml.safe_load(run_ok("training view 1", home, workspace))["events"]
    assert [(e["name"], e["rounds"], e["status"]) for e in events] == [("e1", "3 of 3", "CANCELLED")]


def test_refusals_say_who_may_who_you_are_and_what_is_missing(workspace, home):
    admin_setup(home, workspace)
    wrong = medperf('training set_plan --training_exp_id 1 --config-path "medperf_tutorial/training_config" -y',
                    home, user=DO, cwd=workspace)
    assert wrong.returncode != 0 and wrong.stderr.strip() == (
        "Error: only the owner of training experiment 1 (testmo@example.com) may do this (you are testdo@example.com)")
    run_ok("training start_event --name e1 --training_exp_id 1 --participants_list_file medperf_tutorial/cols_list.yaml"
           " -y", home, workspace)
    run_ok("dataset submit -p 2 -d medperf_tutorial/col1 -l medperf_tutorial/col1 -n d1 --description d --location here"
           " -y", home, workspace, user=DO)
    early = medperf("dataset train --data_uid 1 --training_exp_id 1 -y", home, user=DO, cwd=workspace)
    assert early.returncode != 0 and early.stderr.strip() == (
        "Error: dataset 1 is not approved for training experiment 1 (not requested); "
        "run 'medperf dataset associate --data_uid 1 --training_exp_uid 1' first")


LS = {"container": "UID  Name  State  Registered", "training": "UID  Name  State  Approval Status  Registered",
      "aggregator": "UID  Name  Address  Port", "ca": "UID  Name  Address  Port",
      "dataset": "UID  Name  Data Preparation Container UID  State  Status  Owner",
      "event": "UID  Name  Experiment  Status  Job",
      "association": "Component  Component UID  Training Exp UID  Initiated by  Status"}


def test_every_ls_prints_medperfs_table_and_the_id_idiom_finds_every_id(workspace, home):
    run_ok("auth login -e testmo@example.com", home, workspace)
    for entity, header in LS.items():  # a fresh home: MedPerf's empty table is its header and rule
        out = run_ok(f"{entity} ls", home, workspace)
        lines = out.splitlines()
        assert " ".join(lines[0].split()) == " ".join(header.split()) and set(lines[1]) <= {"-", " "}, (entity, out)
        assert out.endswith("\n") and (len(lines) == 2 or entity in ("container", "ca")), (entity, out)
    run_ok("auth logout", home, workspace)
    admin_setup(home, workspace)
    run_ok("training start_event -n event1 -t 1 -p medperf_tutorial/cols_list.yaml -y", home, workspace)
    submitted = run_ok("dataset submit -p 2 -d medperf_tutorial/col1 -l medperf_tutorial/col1 -n col1 "
                       "--description d --location here -y", home, workspace, user=DO)
    assert submitted.splitlines()[-1] == "✅ Done!", submitted  # MedPerf's closing line
    assert "✅ Done!" not in run_ok("dataset submit --help", home, workspace, user=DO)
    idiom = "| head -n 1 | tr -s ' ' | cut -d ' ' -f 2"  # MedPerf's scripts take IDs with it
    for entity, name, expected in (("container", "trainadmin", "4"), ("container", "prep", "2"),
                                   ("training", "trainexp", "1"), ("aggregator", "myaggreg", "1"),
                                   ("ca", "MedPerf CA", "1"), ("dataset", "col1", "1"), ("event", "event1", "1")):
        found = subprocess.run(["bash", "-c", f"medperf {entity} ls | grep '{name}' {idiom}"], env=cli_env(home, MO),
                               cwd=workspace, capture_output=True, text=True, timeout=60)
        assert found.stdout.strip() == expected, (entity, found.stdout, found.stderr)


def test_a_group_without_a_command_is_a_usage_error_and_every_command_says_what_it_does(home, tmp_path):
    result = medperf("dataset", home)
    assert result.returncode == 2 and "Commands:" in result.stdout
    for group in ("auth", "container", "training", "ca", "aggregator", "dataset", "association", "profile"):
        listing = medperf(f"{group} --help", home).stdout
        commands = listing.split("Commands:")[1].strip().splitlines()
        assert commands and all(len(line.split()) > 1 for line in commands), (group, listing)


def test_medperfs_profiles_exist_and_reserved_or_active_ones_stay(home, tmp_path):
    run_ok("profile activate local", home, tmp_path)
    listed = run_ok("profile ls", home, tmp_path).splitlines()
    assert "* local" in listed and "  default" in listed and "  testauth" in listed, listed  # MedPerf's marks
    for name, why in (("testauth", "is reserved"), ("local", "is reserved")):
        result = medperf(f"profile delete {name}", home)
        assert result.returncode == 1 and why in result.stderr
    run_ok("profile create -n mine", home, tmp_path)
    run_ok("profile activate mine", home, tmp_path)
    assert "is active and cannot be deleted" in medperf("profile delete mine", home).stderr
    run_ok("profile activate default", home, tmp_path)
    run_ok("profile delete mine", home, tmp_path)
