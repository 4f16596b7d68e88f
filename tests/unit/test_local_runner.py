"""The local (bubblewrap) runner: the runner contract and the prep container's three tasks."""

import socket
import stat
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from medperf_lite.commands.tutorial import toy_data
from medperf_lite.containers import config as container_config
from medperf_lite.containers import sandbox
from medperf_lite.containers.runners import TaskRun, choose
from medperf_lite.containers.runners.local import LocalRunner
from medperf_lite.errors import MedperfError
from medperf_lite.files import FIXTURES
from tests.helpers import REPO, settings_for


def container(tmp_path, tasks):
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "hello.txt").write_text("from the source folder")
    return {"name": "probe", "source": str(tmp_path), "parameters": {"answer": 42},
            "config": container_config.validate({"image": "probe", "tasks": tasks, "local": {"/project": "src"}},
                                                "probe")}


def task(command, inputs=None, outputs=None):
    def vol(names):
        return {n: {"mount_path": p, "type": t} for n, (p, t) in (names or {}).items()}
    return {"run_args": {"command": command}, "input_volumes": vol(inputs), "output_volumes": vol(outputs)}


def test_volumes_source_and_parameters_are_at_their_mount_paths(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.txt").write_text("input")
    c = container(tmp_path, {"t": task(
        "sh -c 'cat /project/hello.txt /data/in/x.txt /params/p.yaml > /out/result.txt'",
        {"data": ("/data/in", "directory"), "parameters_file": ("/params/p.yaml", "file")},
        {"out": ("/out", "directory")})})
    LocalRunner(settings_for()).run(TaskRun(c, "t", {"data": tmp_path / "in", "out": tmp_path / "out"}, log=tmp_path / "t.log"))
    assert (tmp_path / "out" / "result.txt").read_text() == "from the source folderinputanswer: 42\n"


def test_offered_mounts_the_task_does_not_declare_are_not_mounted(tmp_path):
    (tmp_path / "in").mkdir()
    c = container(tmp_path, {"t": task("sh -c 'test ! -e /elsewhere && ls / > /out/root.txt'", None,
                                       {"out": ("/out", "directory")})})
    LocalRunner(settings_for()).run(TaskRun(c, "t", {"out": tmp_path / "out", "data": tmp_path / "in"}, log=tmp_path / "t.log"))
    assert "in" not in (tmp_path / "out" / "root.txt").read_text().split()


def test_a_declared_volume_that_is_not_offered_is_one_line(tmp_path):
    c = container(tmp_path, {"t": task("true", {"kits_secret": ("/k", "directory")})})
    with pytest.raises(MedperfError, match="declares volume 'kits_secret', which this command does not offer"):
        LocalRunner(settings_for()).run(TaskRun(c, "t", {}, log=tmp_path / "t.log"))


def test_environment_is_the_configs_and_medperfs_only(tmp_path, monkeypatch):
    monkeypatch.setenv("CALLER_SECRET", "s3cret")
    spec = task("sh -c 'env > /out/env.txt; touch /tmp/mine; ls -A /tmp > /out/tmp.txt'", None,
                {"out": ("/out", "directory")})
    spec["run_args"]["environment"] = {"FROM_CONFIG": "yes"}
    c = container(tmp_path, {"t": spec})
    LocalRunner(settings_for()).run(TaskRun(c, "t", {"out": tmp_path / "out"}, log=tmp_path / "t.log",
                              env={"MEDPERF_PARTICIPANT_LABEL": "testdo@example.com"}))
    env = dict(line.split("=", 1) for line in (tmp_path / "out" / "env.txt").read_text().splitlines() if "=" in line)
    assert env["FROM_CONFIG"] == "yes" and env["MEDPERF_PARTICIPANT_LABEL"] == "testdo@example.com"
    assert "CALLER_SECRET" not in env and env["HOME"] == "/tmp"
    python_below_tmp = {Path(p).parts[2] for p in {sys.prefix, sys.base_prefix} if Path(p).parts[1] == "tmp"}
    assert set((tmp_path / "out" / "tmp.txt").read_text().split()) == {"mine"} | python_below_tmp  # a fresh /tmp


def test_the_host_is_out_of_reach(tmp_path):
    """Only the system folders and this Python are there, read-only: no work folders, no
    MEDPERF_LITE_HOME, no /root beyond the interpreter, no /run sockets, nothing writable."""
    secret = tmp_path / "home" / "users" / "other@example.com" / "local.yaml"
    secret.parent.mkdir(parents=True)
    secret.write_text("their paths")
    checks = [f"test ! -e {secret}", f"test ! -e {REPO / 'medperf_lite'}", "test ! -e /run",
              "test ! -e /root/.bashrc", "! touch /usr/x 2>/dev/null", "! touch /etc/x 2>/dev/null"]
    probe = "sh -c '" + "; ".join(f"{check} && echo {i} >> /out/held" for i, check in enumerate(checks)) + "'"
    c = container(tmp_path, {"t": task(probe, None, {"out": ("/out", "directory")})})
    LocalRunner(settings_for()).run(TaskRun(c, "t", {"out": tmp_path / "out"}, log=tmp_path / "t.log"))
    held = (tmp_path / "out" / "held").read_text().split()
    assert held == [str(i) for i in range(len(checks))], [checks[i] for i in range(len(checks)) if str(i) not in held]


def test_the_fresh_tmp_never_hides_this_python(tmp_path):
    """A checkout (and its venv) below the host's /tmp is bound over the fresh /tmp, not under it."""
    c = container(tmp_path, {"t": task("true")})
    argv = LocalRunner(settings_for()).command(TaskRun(c, "t", {}, log=tmp_path / "t.log"), tmp_path / "tmp")
    tmp_bind = argv.index("/tmp") - 2
    assert argv[tmp_bind] == "--bind" and tmp_bind < argv.index("--ro-bind")


def test_outputs_come_back_without_privileges_or_traps(tmp_path):
    plant = ("sh -c 'cp /bin/true /out/suid && chmod u+s,g+s /out/suid && mkfifo /out/fifo && "
             "ln -s /etc/passwd /out/escape && ln -s suid /out/inside && mkdir /out/d && chmod g+s /out/d'")
    c = container(tmp_path, {"t": task(plant, None, {"out": ("/out", "directory")})})
    LocalRunner(settings_for()).run(TaskRun(c, "t", {"out": tmp_path / "out"}, log=tmp_path / "t.log"))
    out = tmp_path / "out"
    assert not out.joinpath("suid").stat().st_mode & (stat.S_ISUID | stat.S_ISGID)
    assert not out.joinpath("d").stat().st_mode & stat.S_ISGID
    assert not out.joinpath("fifo").exists() and not out.joinpath("escape").is_symlink()
    assert out.joinpath("inside").is_symlink()  # a link that stays inside the volume is harmless


def test_inputs_are_read_only(tmp_path):
    (tmp_path / "in").mkdir()
    c = container(tmp_path, {"t": task("touch /data/new", {"data": ("/data", "directory")})})
    with pytest.raises(MedperfError, match="failed \\(exit 1\\)"):
        LocalRunner(settings_for()).run(TaskRun(c, "t", {"data": tmp_path / "in"}, log=tmp_path / "t.log"))
    assert not (tmp_path / "in" / "new").exists()


def test_no_network_unless_asked(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    probe = f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)\""
    c = container(tmp_path, {"t": task(probe)})
    with pytest.raises(MedperfError, match="failed"):
        LocalRunner(settings_for()).run(TaskRun(c, "t", {}, log=tmp_path / "a.log"))
    LocalRunner(settings_for()).run(TaskRun(c, "t", {}, log=tmp_path / "b.log", network=True))
    server.close()


def test_timeout_stops_the_whole_group(tmp_path):
    c = container(tmp_path, {"t": task("sh -c 'sleep 300 & sleep 300'")})
    started = time.monotonic()
    with pytest.raises(MedperfError, match="timed out after 2 s"):
        LocalRunner(settings_for()).run(TaskRun(c, "t", {}, log=tmp_path / "t.log", timeout=2))
    assert time.monotonic() - started < 30


def test_missing_bubblewrap_is_one_line(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(MedperfError, match="needs bubblewrap: install it with 'apt-get install bubblewrap'"):
        LocalRunner(settings_for())


def test_unknown_runner():
    with pytest.raises(MedperfError, match="unknown runner 'podman'"):
        choose(settings_for().but(runner="podman"))


# ------------------------------------------------------------------ the prep container


def prep_container():
    config, source = container_config.load(str(FIXTURES / "containers" / "chestxray_prep" / "container_config.yaml"))
    params = yaml.safe_load((FIXTURES / "containers" / "chestxray_prep" / "parameters.yaml").read_text())
    return {"name": "prep", "config": config, "source": source, "parameters": params}


def run_prep(tmp_path, raw, runner="local", container=None, out=None):
    """A prep container's three tasks on raw data (ours by default), outputs under ``out``."""
    c, engine, out = container or prep_container(), choose(settings_for(runner)), out or tmp_path / runner
    prepared = {"data_path": out / "data", "labels_path": out / "labels"}
    engine.run(TaskRun(c, "prepare", {"data_path": raw, "labels_path": raw, "output_path": prepared["data_path"],
                                      "output_labels_path": prepared["labels_path"]}, log=out / "prepare.log"))
    engine.run(TaskRun(c, "sanity_check", dict(prepared), log=out / "sanity.log"))
    engine.run(TaskRun(c, "statistics", {**prepared, "output_path": out / "stats.yaml"}, log=out / "stats.log"))
    return out


def test_prep_tasks_on_good_data(tmp_path):
    raw = toy_data().generate(tmp_path / "raw", "col1", images=40)
    out = run_prep(tmp_path, raw)
    images = sorted((out / "data").glob("*.npy"))
    assert len(images) == 40
    image = np.load(images[0])
    assert image.shape == (28, 28, 1) and image.dtype == np.uint8
    label = np.load(out / "labels" / images[0].name)
    assert label.shape == (14,) and label.sum() == 1 and np.issubdtype(label.dtype, np.integer)
    stats = yaml.safe_load((out / "stats.yaml").read_text())
    assert stats["num_cases"] == 40 and sum(stats["labels_count"].values()) == 40
    assert set(stats["labels_count"]) >= {"pneumonia", "cardiomegaly"}


def test_prep_on_broken_data_fails_the_sanity_check(tmp_path):
    raw = toy_data().generate(tmp_path / "raw", "bad", images=20, broken=True)
    with pytest.raises(MedperfError, match="sanity_check.*mismatched counts"):
        run_prep(tmp_path, raw)


def test_sanity_check_catches_bad_arrays(tmp_path):
    raw = toy_data().generate(tmp_path / "raw", "col1", images=5)
    out = run_prep(tmp_path, raw)
    c = prep_container()
    victim = min((out / "data").glob("*.npy"))
    for bad, why in ((np.full((28, 28, 1), np.nan, np.float32), "expected uint8"),
                     (np.zeros((14, 14, 1), np.uint8), "shape \\(14, 14, 1\\)")):
        np.save(victim, bad)
        with pytest.raises(MedperfError, match=why):
            LocalRunner(settings_for()).run(TaskRun(c, "sanity_check", {"data_path": out / "data", "labels_path": out / "labels"},
                                      log=tmp_path / "s.log"))
    np.save(victim, np.zeros((28, 28, 1), np.uint8))
    np.save(out / "labels" / victim.name, np.array([1, 1] + [0] * 12))
    with pytest.raises(MedperfError, match="one-hot"):
        LocalRunner(settings_for()).run(TaskRun(c, "sanity_check", {"data_path": out / "data", "labels_path": out / "labels"},
                                  log=tmp_path / "s.log"))


def test_a_watch_stops_a_running_task_and_says_why(tmp_path):
    c = container(tmp_path, {"t": task("sh -c 'trap \"\" TERM; echo started; sleep 60'")})
    looks = []

    def watch():
        looks.append(time.monotonic())
        return "event 'e1' was cancelled" if len(looks) >= 3 else None

    started = time.monotonic()
    with pytest.raises(MedperfError) as e:
        LocalRunner(settings_for()).run(TaskRun(c, "t", {}, log=tmp_path / "t.log", watch=watch))
    assert e.value.message == f"task 't' of container 'probe' was stopped: event 'e1' was cancelled (log: {tmp_path / 't.log'})"
    assert e.value.failure.ended == "stopped: event 'e1' was cancelled"
    assert len(looks) == 3 and time.monotonic() - started < 30  # SIGTERM ignored: SIGKILL after the grace


def test_a_failed_task_names_its_first_error_and_the_authors_frame(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "boom.py").write_text("import sys\nprint('working')\n\ndef go():\n    return 1 / 0\n\ngo()\n")
    c = container(tmp_path, {"t": task(f"{sys.executable} /project/boom.py")})
    with pytest.raises(MedperfError) as e:
        LocalRunner(settings_for()).run(TaskRun(c, "t", {}, log=tmp_path / "t.log"))
    assert e.value.message == ("task 't' of container 'probe' failed (exit 1): ZeroDivisionError: division by zero "
                               f"(at project/boom.py:5) (log: {tmp_path / 't.log'})")
    failure = e.value.failure
    assert (failure.exit_code, failure.error, failure.where) == (1, "ZeroDivisionError: division by zero", "project/boom.py:5")


def test_the_launcher_gets_none_of_the_tasks_environment(tmp_path, monkeypatch):
    """bwrap itself runs with medperf-lite's minimal environment; the task's variables are set
    inside the sandbox only (a config's LD_PRELOAD must never reach the host-side launcher)."""
    from medperf_lite import processes

    seen = {}

    def fake_run(argv, *, log, env=None, **kw):
        seen.update(argv=argv, env=env)
        return 0, []

    monkeypatch.setattr(processes, "run", fake_run)
    monkeypatch.setenv("LD_PRELOAD", "/caller/own.so")
    c = container(tmp_path, {"t": task("true")})
    c["config"]["tasks"]["t"]["run_args"]["environment"] = {"GREETING": "hi"}
    LocalRunner(settings_for()).run(TaskRun(c, "t", {}, log=tmp_path / "t.log"))
    assert seen["env"] == sandbox.HOST_ENV
    argv = seen["argv"]
    assert argv[1] == "--clearenv" and argv[argv.index("GREETING") - 1] == "--setenv" and "LD_PRELOAD" not in argv


def test_a_stored_config_with_a_loader_variable_is_refused_at_run_time(tmp_path):
    c = container(tmp_path, {"t": task("true")})
    c["config"]["tasks"]["t"]["run_args"]["environment"] = {"LD_PRELOAD": "/mlcommons/volumes/out/x.so"}
    with pytest.raises(MedperfError, match="task 't' of container 'probe': LD_PRELOAD is refused"):
        LocalRunner(settings_for()).run(TaskRun(c, "t", {}, log=tmp_path / "t.log"))


def test_an_input_declared_as_an_output_is_mounted_never(tmp_path):
    c = container(tmp_path, {"prepare": task("true")})  # valid at submit; changed in the store afterwards
    c["config"]["tasks"]["prepare"]["output_volumes"] = {"labels_path": {"mount_path": "/labels", "type": "directory"}}
    raw = tmp_path / "raw"
    raw.mkdir()
    with pytest.raises(MedperfError, match="declares 'labels_path' as an output; MedPerf offers it as an input"):
        LocalRunner(settings_for()).run(TaskRun(c, "prepare", {"labels_path": raw}, log=tmp_path / "t.log"))
