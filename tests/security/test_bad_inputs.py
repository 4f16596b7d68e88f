"""Bad inputs through the real CLI: each fails with a non-zero exit, one clear line (usage
errors: the usage and one line, exit 2), no traceback, and a byte-identical server folder."""

import hashlib
import shutil
import subprocess

import pytest
import yaml

from tests.helpers import cli_env
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
    "aggregator registered twice": ("aggregator submit -n a -m 3 -a 127.0.0.1 -p 8102 -p 8103", MO, 1),
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
    "report /dev/zero": ("training close_event -t 1 -r /dev/zero -y", MO, 1),
    "status of another's experiment": ("training get_experiment_status -t 1", DO, 1),
    "simulate unknown scenario": ("simulate no-such-scenario", MO, 1),
    "scenario check a list": ("scenario check list.yaml", MO, 1),
    "tutorial init off loopback": ("tutorial init . --address 10.0.0.1", MO, 1),
    "tutorial init bad ports": ("tutorial init . --ports 1", MO, 1),
    "tutorial init bad timings": ("tutorial init . --timings slow", MO, 1),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    from medperf_lite.commands import tutorial

    tutorial.init(root, images=20)
    admin_setup(root / "home", root)
    for name, data in FILES.items():
        (root / name).write_bytes(data)
    (root / "emptydir").mkdir()
    return root


def digest(folder):
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "db.lock"):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_cleanly(case, world, tmp_path):
    command, user, code = CASES[case]
    home = tmp_path / "home"  # each case on its own copy of the server and the users' storage
    shutil.copytree(world / "home", home, symlinks=True)
    before = digest(home / "server")
    result = subprocess.run(["bash", "-c", f"medperf {command}"], env=cli_env(home, user), cwd=world,
                            capture_output=True, text=True, timeout=120, input="")
    assert result.returncode == code, (command, result.returncode, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout and "internal error" not in result.stderr
    if code == 1:
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    else:
        assert "Usage:" in result.stdout + result.stderr
    assert digest(home / "server") == before, "the server folder changed"


def test_the_table_is_large():
    assert len(CASES) >= 60
