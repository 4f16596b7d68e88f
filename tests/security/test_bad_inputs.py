"""Bad inputs through the real CLI: each fails with a non-zero exit, one clear line (usage
errors: the usage and one line, exit 2), no traceback, and a byte-identical server folder."""

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from medperf_lite.home import Home
from tests.helpers import PORTS, cli_env, settings_for, tree_digest
from tests.scenarios.test_tutorial_sections import DO, MO, admin_setup

GOOD_CONFIG = "medperf_tutorial/containers/prep/container_config.yaml"


def deep_yaml(levels: int) -> str:
    return "[" * levels + "]" * levels


def bomb_yaml() -> str:
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 12):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\n"


VOLUME = "image: i\ntasks: {{t: {{run_args: {{command: x}}, input_volumes: {{d: {{mount_path: {mount}, type: {type}}}}}}}}}\n"
FILES = {
    "nonutf8.yaml": b"image: \xff\xfe\n",
    "deep.yaml": deep_yaml(60000).encode(),
    "bomb.yaml": bomb_yaml().encode(),
    "huge.yaml": b"image: x\npad: '" + b"y" * (2 << 20) + b"'\n",
    "list.yaml": b"- a\n- b\n",
    "notyaml.yaml": b"a: [unclosed\n",
    "privileged.yaml": yaml.safe_dump({"image": "i", "tasks": {"t": {"run_args": {"command": "x", "privileged": True}}}}
                                      ).encode(),
    "twice.yaml": yaml.safe_dump({"image": "i", "tasks": {"t": {
        "run_args": {"command": "x"}, "input_volumes": {"data_path": {"mount_path": "/a", "type": "directory"}},
        "output_volumes": {"data_path": {"mount_path": "/b", "type": "directory"}}}}}).encode(),
    "unknown_user.yaml": b"testdo@example.com: nobody@nowhere.org\n",
    "ctrl_label.yaml": b"\"bad\\x07label\": testdo@example.com\n\"b\": testdo2@example.com\n",
    "empty.yaml": b"",
    "scalar.yaml": b"42\n",
    "tasks_list.yaml": b"image: i\ntasks: [a, b]\n",
    "image_number.yaml": b"image: 3\ntasks: {t: {run_args: {command: x}}}\n",
    "relative_mount.yaml": VOLUME.format(mount="rel", type="directory").encode(),
    "dotdot_mount.yaml": VOLUME.format(mount="/a/../b", type="directory").encode(),
    "socket_type.yaml": VOLUME.format(mount="/a", type="socket").encode(),
    "command_number.yaml": b"image: i\ntasks: {t: {run_args: {command: 5}}}\n",
    "env_list.yaml": b"image: i\ntasks: {t: {run_args: {command: x, environment: [A=1]}}}\n",
    "singularity.yaml": b"container_type: Singularity\nimage: i\ntasks: {t: {run_args: {command: x}}}\n",
    "local_relative.yaml": b"image: i\ntasks: {t: {run_args: {command: x}}}\nlocal: {project: project}\n",
    "deep65.yaml": deep_yaml(65).encode(),
    "many_aliases.yaml": ("a: &a 1\nb: [" + ", ".join(["*a"] * 101) + "]\n").encode(),
    "binary.yaml": bytes(range(256)),
    "tabs.yaml": b"image: i\ntasks:\n\tt: x\n",
    # a hostile container author (issue: LD_PRELOAD into the host-side sandbox, local: to /, raw data as an output)
    "ld_preload.yaml": b"image: i\ntasks: {t: {run_args: {command: x, environment: {LD_PRELOAD: /mlcommons/volumes/o/x.so}}}}\n",
    "ld_library.yaml": b"image: i\ntasks: {t: {run_args: {command: x, environment: {ld_library_path: /tmp}}}}\n",
    "pythonpath_volume.yaml": (b"image: i\ntasks: {t: {run_args: {command: x, "
                               b"environment: {PYTHONPATH: '/project:/mlcommons/volumes/data'}}}}\n"),
    "pythonstartup.yaml": b"image: i\ntasks: {t: {run_args: {command: x, environment: {PYTHONSTARTUP: /tmp/s.py}}}}\n",
    "local_root.yaml": b"image: i\ntasks: {t: {run_args: {command: x}}}\nlocal: {/project: ../../../../../..}\n",
    "local_absolute.yaml": b"image: i\ntasks: {t: {run_args: {command: x}}}\nlocal: {/project: /etc}\n",
    "local_link.yaml": b"image: i\ntasks: {t: {run_args: {command: x}}}\nlocal: {/project: rootlink}\n",
    "local_loop.yaml": b"image: i\ntasks: {t: {run_args: {command: x}}}\nlocal: {/project: loopdir}\n",
    "local_inner_link.yaml": b"image: i\ntasks: {t: {run_args: {command: x}}}\nlocal: {/project: leakdir}\n",
    "space_label.yaml": b"'test do': testdo@example.com\n",
    "dotdot_label.yaml": b"'../../x': testdo@example.com\n",
    "slash_label.yaml": b"'a/b': testdo@example.com\n",
    "long_include.yaml": ("name: x\nsteps:\n  - include: " + "a" * 5000 + "\n").encode(),
    "badimage/container_config.yaml": b"image: bad/json:1\ntasks: {t: {run_args: {command: x}}}\n",
    "badimage/Dockerfile": b'FROM python:3.11\nCOPY ["project", \n',
    "quoteimage/container_config.yaml": b"image: bad/quote:1\ntasks: {t: {run_args: {command: x}}}\n",
    "quoteimage/Dockerfile": b"FROM python:3.11\nRUN pip install 'numpy\nENV A=\"b\n",
    "raw_labels_out.yaml": VOLUME.replace("input_volumes", "output_volumes").replace("t: {{", "prepare: {{").format(
        mount="/labels", type="directory").replace("d: {", "labels_path: {").encode(),
    "prepared_data_out.yaml": VOLUME.replace("input_volumes", "output_volumes").replace("t: {{", "train: {{").format(
        mount="/data", type="directory").replace("d: {", "data_path: {").encode(),
}

# name -> (command, as whom, expected exit: 1 or 2)
CASES = {
    "config /dev/zero": ("container submit -n z -m /dev/zero", MO, 1),
    "config missing": ("container submit -n z -m nothing.yaml", MO, 1),
    "config a folder": ("container submit -n z -m medperf_tutorial", MO, 1),
    "config not UTF-8": ("container submit -n z -m nonutf8.yaml", MO, 1),
    "config 60,000 deep": ("container submit -n z -m deep.yaml", MO, 1),
    "config alias bomb": ("container submit -n z -m bomb.yaml", MO, 1),
    "config 2 MiB": ("container submit -n z -m huge.yaml", MO, 1),
    "config a list": ("container submit -n z -m list.yaml", MO, 1),
    "config not YAML": ("container submit -n z -m notyaml.yaml", MO, 1),
    "config empty": ("container submit -n z -m empty.yaml", MO, 1),
    "config run_args outside MedPerf's": ("container submit -n z -m privileged.yaml", MO, 1),
    "config volume in and out": ("container submit -n z -m twice.yaml", MO, 1),
    "config malformed URL": ("container submit -n z -m http://[::1", MO, 1),
    "config unsupported scheme": ("container submit -n z -m ftp://example.org/c.yaml", MO, 1),
    "config wrong hash": (f"container submit -n z -m {GOOD_CONFIG} --container-config-hash 00", MO, 1),
    "parameters /dev/zero": (f"container submit -n z -m {GOOD_CONFIG} -p /dev/zero", MO, 1),
    "parameters a list": (f"container submit -n z -m {GOOD_CONFIG} -p list.yaml", MO, 1),
    "parameters a scalar": (f"container submit -n z -m {GOOD_CONFIG} -p scalar.yaml", MO, 1),
    "parameters alias bomb": (f"container submit -n z -m {GOOD_CONFIG} -p bomb.yaml", MO, 1),
    "container name with a newline": (f"container submit -n $'a\\nb' -m {GOOD_CONFIG}", MO, 1),
    "container name taken": (f"container submit -n prep -m {GOOD_CONFIG}", MO, 1),
    "experiment: unknown container": ("training submit -n e -d d -p 99 -m 3", MO, 1),
    "experiment: non-integer ID": ("training submit -n e -d d -p x -m 3", MO, 2),
    "experiment: missing option": ("training submit -n e -p 2 -m 3", MO, 2),
    "plan: no such folder": ("training set_plan -t 1 -c nowhere -y", MO, 1),
    "plan: no such experiment": ("training set_plan -t 9 -c medperf_tutorial/training_config -y", MO, 1),
    "participants /dev/zero": ("training start_event -n e -t 1 -p /dev/zero -y", MO, 1),
    "participants a list": ("training start_event -n e -t 1 -p list.yaml -y", MO, 1),
    "participants not UTF-8": ("training start_event -n e -t 1 -p nonutf8.yaml -y", MO, 1),
    "participants unknown user": ("training start_event -n e -t 1 -p unknown_user.yaml -y", MO, 1),
    "participants control character": ("training start_event -n e -t 1 -p ctrl_label.yaml -y", MO, 1),
    "participants empty": ("training start_event -n e -t 1 -p empty.yaml -y", MO, 1),
    "participants alias bomb": ("training start_event -n e -t 1 -p bomb.yaml -y", MO, 1),
    "event name empty": ("training start_event -n '' -t 1 -p medperf_tutorial/cols_list.yaml -y", MO, 1),
    "aggregator off loopback": ("aggregator submit -n a -m 3 -a 10.0.0.1 -p 9000 -p 9001", MO, 1),
    "aggregator one port": ("aggregator submit -n a -m 3 -a 127.0.0.1 -p 9000", MO, 1),
    "aggregator ports out of range": ("aggregator submit -n a -m 3 -a 127.0.0.1 -p 0 -p 70000", MO, 1),
    "aggregator registered twice": (f"aggregator submit -n a -m 3 -a 127.0.0.1 -p {PORTS[0]} -p {PORTS[1]}", MO, 1),
    "aggregator non-integer port": ("aggregator submit -n a -m 3 -a 127.0.0.1 -p x -p 1", MO, 2),
    "login unknown user": ("auth login -e nobody@example.com", None, 1),
    "login e-mail with newline": ("auth login -e $'testdo@example.com\\n'", None, 1),
    "dataset: no such folder": ("dataset submit -p 2 -d nowhere -l nowhere -n d -y", DO, 1),
    "dataset: empty folder": ("dataset submit -p 2 -d emptydir -l emptydir -n d -y", DO, 1),
    "dataset: unknown prep": ("dataset submit -p 9 -d medperf_tutorial/col1 -l medperf_tutorial/col1 -n d -y", DO, 1),
    "dataset: prepare unknown": ("dataset prepare -d 9", DO, 1),
    "dataset: view unknown": ("dataset view 9", DO, 1),
    "dataset: view non-integer": ("dataset view x", DO, 2),
    "dataset: train without event": ("dataset train -d 1 -t 1 -y", DO, 1),
    "unknown command": ("training frobnicate", MO, 2),
    "unknown option": ("container ls --everything", MO, 2),
    "unknown format": ("container ls --format xml", MO, 1),
    "profile unknown": ("profile activate nobody", MO, 1),
    "profile bad name": ("profile create -n 'bad name!'", MO, 1),
    "users add not an e-mail": ("users add bob", MO, 1),
    "close without event": ("training close_event -t 1 -y", MO, 1),
    "config sets LD_PRELOAD": ("container submit -n z -m ld_preload.yaml", MO, 1),
    "config sets ld_library_path": ("container submit -n z -m ld_library.yaml", MO, 1),
    "config's PYTHONPATH into a volume": ("container submit -n z -m pythonpath_volume.yaml", MO, 1),
    "config sets PYTHONSTARTUP": ("container submit -n z -m pythonstartup.yaml", MO, 1),
    "config local: up to /": ("container submit -n z -m local_root.yaml", MO, 1),
    "config local: an absolute folder": ("container submit -n z -m local_absolute.yaml", MO, 1),
    "config local: a link out of its folder": ("container submit -n z -m local_link.yaml", MO, 1),
    "config raw labels as prepare's output": ("container submit -n z -m raw_labels_out.yaml", MO, 1),
    "config prepared data as train's output": ("container submit -n z -m prepared_data_out.yaml", MO, 1),
    "report /dev/zero": ("training close_event -t 1 -r /dev/zero -y", MO, 1),
    "status of another's experiment": ("training get_experiment_status -t 1", DO, 1),
    "simulate unknown scenario": ("simulate no-such-scenario", MO, 1),
    "scenario check a list": ("scenario check list.yaml", MO, 1),
    "tutorial init off loopback": ("tutorial init . --address 10.0.0.1", MO, 1),
    "tutorial init bad ports": ("tutorial init . --ports 1", MO, 1),
    "tutorial init bad timings": ("tutorial init . --timings slow", MO, 1),
    # paths into the server's storage or another user's local storage
    "parameters: the server's db.json": (f"container submit -n z -m {GOOD_CONFIG} -p {{home}}/server/db.json", MO, 1),
    "parameters: another user's file": (f"container submit -n z -m {GOOD_CONFIG} "
                                        "-p {home}/users/testdo@example.com/x.yaml", MO, 1),
    "config: another user's file": ("container submit -n z -m {home}/users/testdo@example.com/c.yaml", MO, 1),
    "dataset in another user's storage": ("dataset submit -p 2 -d {home}/users/testmo@example.com -l "
                                          "{home}/users/testmo@example.com -n d -y", DO, 1),
    "plan from the server's storage": ("training set_plan -t 1 -c {home}/server -y", MO, 1),
    "participants from another user": ("training start_event -n e -t 1 -p {home}/users/testdo@example.com/p.yaml -y",
                                       MO, 1),
    "participants: the server's db.json": ("training start_event -n e -t 1 -p {home}/server/db.json -y", MO, 1),
    # more malformed values
    "config: tasks a list": ("container submit -n z -m tasks_list.yaml", MO, 1),
    "config: image a number": ("container submit -n z -m image_number.yaml", MO, 1),
    "config: relative mount path": ("container submit -n z -m relative_mount.yaml", MO, 1),
    "config: '..' in a mount path": ("container submit -n z -m dotdot_mount.yaml", MO, 1),
    "config: volume type socket": ("container submit -n z -m socket_type.yaml", MO, 1),
    "config: command a number": ("container submit -n z -m command_number.yaml", MO, 1),
    "config: environment a list": ("container submit -n z -m env_list.yaml", MO, 1),
    "config: container type": ("container submit -n z -m singularity.yaml", MO, 1),
    "config: local section relative": ("container submit -n z -m local_relative.yaml", MO, 1),
    "config: a fifo": ("container submit -n z -m fifo.yaml", MO, 1),
    "config: a symlink to /dev/zero": ("container submit -n z -m zero_link.yaml", MO, 1),
    "config: 65 levels deep": ("container submit -n z -m deep65.yaml", MO, 1),
    "config: 101 aliases": ("container submit -n z -m many_aliases.yaml", MO, 1),
    "config: binary": ("container submit -n z -m binary.yaml", MO, 1),
    "config: tab-indented YAML": ("container submit -n z -m tabs.yaml", MO, 1),
    "experiment: empty name": ("training submit -n '' -d d -p 2 -m 3", MO, 1),
    "experiment: name with a tab": ("training submit -n $'a\tb' -d d -p 2 -m 3", MO, 1),
    "experiment: name of 300 characters": ("training submit -n " + "x" * 300 + " -d d -p 2 -m 3", MO, 1),
    "experiment: name taken": ("training submit -n trainexp -d d -p 2 -m 3", DO, 1),
    "aggregator: unknown container": ("aggregator submit -n a -m 99 -a 127.0.0.1 -p 9100 -p 9101", MO, 1),
    "aggregator: same port twice": ("aggregator submit -n a -m 3 -a 127.0.0.1 -p 9100 -p 9100", MO, 1),
    "aggregator: a host name": ("aggregator submit -n a -m 3 -a example.org -p 9100 -p 9101", MO, 1),
    "aggregator: associate unknown": ("aggregator associate -a 9 -t 1", MO, 1),
    "aggregator: start off loopback": ("aggregator start -t 1 -p 0.0.0.0", MO, 1),
    "aggregator: start without event": ("aggregator start -t 1 -p 127.0.0.1", MO, 1),
    "ca: unknown CA": ("ca associate -t 1 -c 7 -y", MO, 1),
    "ca: twice": ("ca associate -t 1 -c 1 -y", MO, 1),
    "association: both ids": ("association approve -t 1 -d 1 -a 1", MO, 1),
    "association: neither id": ("association approve -t 1", MO, 1),
    "association: nothing asked": ("association approve -t 1 -d 1", MO, 1),
    "dataset: a file as data path": ("dataset submit -p 2 -d list.yaml -l list.yaml -n d -y", DO, 1),
    "dataset: name with a newline": ("dataset submit -p 2 -d medperf_tutorial/col1 -l medperf_tutorial/col1 "
                                     "-n $'a\nb' -y", DO, 1),
    "dataset: submit-as-prepared": ("dataset submit -p 2 -d medperf_tutorial/col1 -l medperf_tutorial/col1 -n d "
                                    "--submit-as-prepared -y", DO, 1),
    "dataset: set_operational unknown": ("dataset set_operational -d 9 -y", DO, 1),
    "dataset: associate unknown": ("dataset associate -d 9 -t 1 -y", DO, 1),
    "dataset: restart_on_failure": ("dataset train -d 1 -t 1 -y --restart_on_failure", DO, 1),
    "training: approve as a data owner": ("training approve -t 1", DO, 1),
    "training: view unknown": ("training view 9", MO, 1),
    "training: submit_job of unknown": ("training submit_job -t 9", MO, 1),
    "training: cancel without an open event": ("training cancel_event -t 1", MO, 1),
    "training: update_plan without event": ("training update_plan -t 1 -f num_rounds -v 4", MO, 1),
    "certificate: without event": ("certificate get_client_certificate -t 1", DO, 1),
    "profile: set": ("profile set --server https://example.org", MO, 1),
    "profile: delete the default": ("profile delete default", MO, 1),
    "profile: view unknown": ("profile view nobody", MO, 1),
    "not logged in": ("auth logout >/dev/null && medperf container ls", None, 1),
    "event: view unknown": ("event view 3", MO, 1),
    # hostile inputs (issue: a hostile container author)
    "config local: a folder with a link loop": ("container submit -n z -m local_loop.yaml", MO, 1),
    "config local: a folder with a link out": ("container submit -n z -m local_inner_link.yaml", MO, 1),
    "participants: a label with a space": ("training start_event -n e -t 1 -p space_label.yaml -y", MO, 1),
    "participants: a label with ../": ("training start_event -n e -t 1 -p dotdot_label.yaml -y", MO, 1),
    "participants: a label with /": ("training start_event -n e -t 1 -p slash_label.yaml -y", MO, 1),
    "plan: a training config with a link to /etc/passwd": ("training set_plan -t 1 -c linked_config -y", MO, 1),
    "plan: a training config with a link loop": ("training set_plan -t 1 -c loop_config -y", MO, 1),
    "plan: empty workflows": ("training set_plan -t 1 -c empty_workflows_config -y", MO, 1),
    "scenario: a 5000-character include": ("scenario check long_include.yaml", MO, 1),
    "image: broken exec-form JSON": ("image build badimage", MO, 1),
    "image: unbalanced quotes": ("image build quoteimage", MO, 1),
    "image: a link out of the folder": ("image build linkimage", MO, 1),
    "group without a command": ("training", MO, 2),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    from medperf_lite.commands import tutorial

    tutorial.init(Home(settings_for()), root, images=20, ports=PORTS)
    admin_setup(root / "home", root)
    for name, data in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "loopdir").mkdir()
    (root / "loopdir" / "a").symlink_to("b")
    (root / "loopdir" / "b").symlink_to("a")
    (root / "leakdir").mkdir()
    (root / "leakdir" / "shadow").symlink_to("/etc/shadow")
    training = root / "medperf_tutorial" / "training_config"
    for name in ("linked_config", "loop_config", "empty_workflows_config"):
        shutil.copytree(training, root / name)
    (root / "linked_config" / "passwd").symlink_to("/etc/passwd")
    (root / "loop_config" / "x").symlink_to("y")
    (root / "loop_config" / "y").symlink_to("x")
    for server in (root / "empty_workflows_config").rglob("config_fed_server.json"):
        data = json.loads(server.read_text())
        server.write_text(json.dumps({**data, "workflows": []}))
    shutil.copytree(root / "badimage", root / "linkimage")
    (root / "linkimage" / "Dockerfile").write_text("FROM python:3.11\nCOPY project /project\n")
    (root / "linkimage" / "project").symlink_to("/root")
    (root / "emptydir").mkdir()
    os.mkfifo(root / "fifo.yaml")
    (root / "zero_link.yaml").symlink_to("/dev/zero")
    (root / "rootlink").symlink_to("/")
    return root


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_cleanly(case, world, tmp_path):
    command, user, code = CASES[case]
    home = tmp_path / "home"  # each case on its own copy of the server and the users' storage
    shutil.copytree(world / "home", home, symlinks=True)
    before = tree_digest(home / "server")
    command = command.replace("{home}", str(home))
    result = subprocess.run(["bash", "-c", f"medperf {command}"], env=cli_env(home, user), cwd=world,
                            capture_output=True, text=True, timeout=120, input="")
    assert result.returncode == code, (command, result.returncode, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout and "internal error" not in result.stderr
    if code == 1:
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    else:
        assert "Usage:" in result.stdout + result.stderr
    assert tree_digest(home / "server") == before, "the server folder changed"


def test_the_table_is_large():
    assert len(CASES) >= 100


@pytest.mark.parametrize("damage,message", [
    (lambda home: (home / "server" / "db.json").write_text("[1, 2]"), "the server store .* is damaged"),
    (lambda home: (home / "server" / "db.json").write_text('{"users": {"1": 5}}'), "the server store .* is damaged"),
    (lambda home: (home / "server" / "db.json").write_bytes(b"\xff{"), "the server store .* is unreadable"),
    (lambda home: (home / "config.yaml").write_text("- a list\n"), "the profile config .* is damaged"),
    (lambda home: (home / "config.yaml").write_text("active: default\nprofiles: {default: 3}\n"),
     "the profile config .* is damaged"),
    (lambda home: (home / "config.yaml").write_bytes(b"\xfe\xff"), "the profile config .* is not UTF-8"),
], ids=["db a list", "db records not mappings", "db not UTF-8", "profiles a list", "profile not a mapping",
        "profiles not UTF-8"])
def test_a_damaged_home_is_one_line(world, tmp_path, damage, message):
    home = tmp_path / "home"
    shutil.copytree(world / "home", home)
    damage(home)
    user = None if "profile" in message else MO  # the profiles' logins are read when no user is set
    result = subprocess.run(["medperf", "container", "ls"], env=cli_env(home, user), cwd=world, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert re.match(f"Error: {message}", result.stderr), result.stderr


def test_a_home_that_is_a_file_is_one_line(world, tmp_path):
    (tmp_path / "home").write_text("not a folder")
    result = subprocess.run(["medperf", "container", "ls"], env=cli_env(tmp_path / "home", MO), cwd=world,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stderr.startswith("Error: MEDPERF_LITE_HOME") and \
        result.stderr.count("\n") == 1, result.stderr
