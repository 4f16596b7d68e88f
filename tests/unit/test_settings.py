"""One settings object: built from the environment with flags on top, checked once, carried
by the session; the CLI and the simulator choose the runner the same way."""

from pathlib import Path

import pytest

from medperf_lite.commands import Session
from medperf_lite.errors import MedperfError
from medperf_lite.home import Home
from medperf_lite.settings import VARIABLES, Settings
from tests.helpers import medperf


def test_defaults_from_an_empty_environment():
    s = Settings.load({})
    assert (s.home, s.runner, s.user, s.profile, s.debug) == (Path.home().resolve() / ".medperf_lite", "local",
                                                               None, None, False)
    assert (s.admin_timeout, s.close_timeout, s.run_id) == (120.0, 300.0, None)


def test_every_variable_is_read(tmp_path):
    env = {VARIABLES["home"]: str(tmp_path), VARIABLES["profile"]: "p", VARIABLES["user"]: "a@b.c",
           VARIABLES["runner"]: "docker", VARIABLES["debug"]: "1", VARIABLES["admin_timeout"]: "5",
           VARIABLES["close_timeout"]: "7.5", VARIABLES["run_id"]: "r1", VARIABLES["verbose"]: "yes",
           VARIABLES["images"]: str(tmp_path / "images"), VARIABLES["stop_grace"]: "3",
           VARIABLES["site_address"]: "10.1.0.2", VARIABLES["docker_network"]: "n1", VARIABLES["wheels"]: str(tmp_path)}
    assert Settings.load(env) == Settings(tmp_path.resolve(), "p", "a@b.c", "docker", True, True, 5.0, 7.5, 3.0, "r1",
                                          (tmp_path / "images").resolve(), "10.1.0.2", "n1", (tmp_path,))


def test_flags_win_over_the_environment(tmp_path):
    s = Settings.load({VARIABLES["runner"]: "docker", VARIABLES["home"]: str(tmp_path)}, runner="local")
    assert s.runner == "local" and s.home == tmp_path.resolve()
    assert s.but(runner="docker").runner == "docker" and s.but(runner=None).runner == "local"


@pytest.mark.parametrize(("name", "value", "message"), [
    ("runner", "podman", "unknown runner 'podman'"),
    ("admin_timeout", "soon", "MEDPERF_LITE_ADMIN_TIMEOUT='soon' is not a positive number"),
    ("close_timeout", "-1", "MEDPERF_LITE_CLOSE_TIMEOUT='-1' is not a positive number"),
    ("close_timeout", "nan", "is not a positive number"),
])
def test_bad_values_are_one_line_errors(name, value, message):
    with pytest.raises(MedperfError, match=message):
        Settings.load({VARIABLES[name]: value})


def test_a_home_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(MedperfError, match="is not a folder"):
        Settings.load({VARIABLES["home"]: str(tmp_path / "f")})


def test_the_session_carries_the_settings(tmp_path):
    config = Settings.load({}, home=str(tmp_path), user="testmo@example.com", runner="docker", admin_timeout="9")
    session = Session.current(Home(config=config))
    assert session.user == "testmo@example.com" and session.settings is config
    assert session.home.root == tmp_path.resolve() and session.settings.admin_timeout == 9.0


def test_cli_and_simulate_refuse_the_same_bad_runner(tmp_path):
    for command in ("container ls", "simulate tutorial"):
        r = medperf(command, tmp_path / "home", "testmo@example.com", MEDPERF_LITE_RUNNER="podman", timeout=60)
        assert r.returncode != 0 and r.stderr.strip().splitlines() == [
            "Error: unknown runner 'podman'; choose one of: local, docker"], (command, r.stderr)
    r = medperf("--runner podman container ls", tmp_path / "home", "testmo@example.com", timeout=60)
    assert "unknown runner 'podman'" in r.stderr and r.returncode != 0


def test_a_child_run_keeps_only_the_machines_settings(monkeypatch, tmp_path):
    from medperf_lite import settings

    monkeypatch.setenv("MEDPERF_LITE_USER", "caller@example.com")
    monkeypatch.setenv("MEDPERF_LITE_IMAGES", "/the/store")
    monkeypatch.setenv("PIP_INDEX_URL", "file:///opt/pypi/simple")
    env = settings.child_environment(home=tmp_path, runner="docker", user=None)
    assert env["MEDPERF_LITE_HOME"] == str(tmp_path) and env["MEDPERF_LITE_RUNNER"] == "docker"
    assert "MEDPERF_LITE_USER" not in env and env["MEDPERF_LITE_IMAGES"] == "/the/store"
    assert "MEDPERF_LITE_IMAGES" not in settings.child_environment(keep=())
    assert settings.machine_pip_environment()["PIP_INDEX_URL"] == "file:///opt/pypi/simple"


def test_the_wheels_a_docker_build_copies_in_are_pips_own(tmp_path, monkeypatch):
    """No machine path in the code: pip's find-links (its variable, then its config file), only
    local folders; MEDPERF_LITE_WHEELS wins; a child run keeps them."""
    from medperf_lite import settings as settings_module

    monkeypatch.setattr(settings_module.Path, "home", lambda: tmp_path / "nohome")
    wheels, more = tmp_path / "wheels", tmp_path / "more"
    wheels.mkdir()
    more.mkdir()
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\nfind-links = {more} https://example.invalid/simple {tmp_path / 'gone'}\n")
    env = {"PIP_FIND_LINKS": f"file://{wheels}", "PIP_CONFIG_FILE": str(config)}
    found = Settings.load(env).wheels
    assert found[:2] == (wheels, more) and all(f.is_dir() for f in found)
    assert Settings.load({**env, "MEDPERF_LITE_WHEELS": f"{more}:{wheels}"}).wheels == (more, wheels)
    assert settings_module.to_env(wheels=(more, wheels)) == {"MEDPERF_LITE_WHEELS": f"{more}:{wheels}"}
