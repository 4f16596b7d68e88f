"""Local images from MedPerf container folders: the Dockerfile read as MedPerf's authors write
it, substitutions for pins that cannot be had here, a cached build, one-line refusals."""

import pytest

from medperf_lite.containers import images, substitutions
from medperf_lite.containers.dockerfile import parse_dockerfile
from medperf_lite.errors import MedperfError
from tests.helpers import settings_for


@pytest.fixture(autouse=True)
def a_home(tmp_path, monkeypatch):
    """Builds pin their image names in the home: a test's own."""
    in_home(monkeypatch, tmp_path / "home")


def in_home(monkeypatch, home):
    from medperf_lite import settings

    monkeypatch.setenv("MEDPERF_LITE_HOME", str(home))
    monkeypatch.setattr(settings, "_current", None)


DOCKERFILE = """FROM python:3.10
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get -y install \\
    zip git
RUN pip install -U pip
RUN pip install nvflare==2.6
COPY project/requirements.txt /project/requirements.txt
RUN pip3 install --no-cache-dir -r /project/requirements.txt
ENV LANG C.UTF-8
ENV A=1 B="two words"
WORKDIR /project
COPY project /project
ENTRYPOINT ["bash", "/project/entrypoint.sh"]
"""


def test_a_dockerfile_as_medperf_writes_it():
    r = parse_dockerfile(DOCKERFILE)
    assert r.base == "python:3.10"
    assert r.copies == [(["project/requirements.txt"], "/project/requirements.txt"), (["project"], "/project")]
    assert r.pips == [["-U", "pip"], ["nvflare==2.6"], ["--no-cache-dir", "-r", "/project/requirements.txt"]]
    assert r.skipped == ["apt-get update", "DEBIAN_FRONTEND=noninteractive apt-get -y install zip git"]
    assert r.env == {"LANG": "C.UTF-8", "A": "1", "B": "two words"}
    assert r.workdir == "/project" and r.entrypoint == ["bash", "/project/entrypoint.sh"]


@pytest.mark.parametrize("text,message", [
    ("RUN true\n", "no FROM line"),
    ("FROM a AS b\nFROM c\n", "multi-stage"),
    ("FROM a\nCOPY --from=b /x /y\n", "multi-stage"),
    ("FROM a\nADD https://example.com/x /x\n", "only local sources"),
])
def test_dockerfiles_it_cannot_take(text, message):
    with pytest.raises(MedperfError, match=message):
        parse_dockerfile(text)


def test_substitutions_replace_pins_drop_foreign_indexes_and_leave_out(tmp_path):
    subs_file = tmp_path / "subs.txt"
    subs_file.write_text("# pins\ntorch==2.13.0\n!torchaudio\n")
    subs = substitutions.load_substitutions(subs_file)
    text, notes = substitutions.rewrite_requirements(
        "--extra-index-url https://download.pytorch.org/whl/cpu\ntorch==2.5.1\ntorchaudio==2.5.1\nTyper==0.9.0\n", subs)
    assert text.split() == ["torch==2.13.0", "Typer==0.9.0"]
    assert len(notes) == 3
    args, _ = substitutions.pip_arguments(["-U", "pip", "--user", "torch>=2", "--index-url", "http://x", "-r", "req.txt"], subs,
                                   lambda p: f"/local/{p}")
    assert args == ["--upgrade", "torch==2.13.0", "--requirement", "/local/req.txt"]


def folder_with(tmp_path, dockerfile, files=None):
    folder = tmp_path / "c"
    (folder / "project").mkdir(parents=True)
    (folder / "container_config.yaml").write_text("image: me/c:1\ntasks: {}\n")
    (folder / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (folder / name).write_text(text)
    return folder


def test_build_places_copies_and_is_cached(tmp_path):
    folder = folder_with(tmp_path, "FROM x\nCOPY project /opt/app\nCOPY run.sh /opt/bin/\n",
                         {"project/main.py": "print(1)\n", "run.sh": "echo\n"})
    store = tmp_path / "store"
    image, built = images.build_local(folder, settings_for(images=store), echo=lambda *_: None)
    assert built and image.copies == ["/opt/app", "/opt/bin"]
    assert (image.path / "root" / "opt" / "app" / "main.py").read_text() == "print(1)\n"
    assert (image.path / "root" / "opt" / "bin" / "run.sh").exists()
    assert images.build_local(folder, settings_for(images=store), echo=lambda *_: None)[1] is False  # same content: kept
    (folder / "project" / "main.py").write_text("print(2)\n")
    again, built = images.build_local(folder, settings_for(images=store), echo=lambda *_: None)
    assert built and again.hash != image.hash and again.path != image.path
    assert (image.path / "image.json").exists(), "a finished image is never changed (tasks may run from it)"
    assert [i.name for i in images.list_local(settings_for(images=store))] == ["me/c:1"]
    assert images.find_local("me/c:1", settings_for(images=store)).hash == again.hash


@pytest.mark.parametrize("dockerfile,message", [
    ("FROM x\nCOPY ../outside /x\n", "outside the container folder"),
    ("FROM x\nCOPY project /../../etc\n", "climbs out"),
    ("FROM x\nCOPY missing /x\n", "does not exist"),
    ("FROM x\nCOPY project /\n", "copies into / itself"),
    ("FROM x\nRUN pip install -r /nowhere.txt\n", "not copied by the Dockerfile"),
])
def test_folders_it_refuses(tmp_path, dockerfile, message):
    (tmp_path / "outside").mkdir()
    folder = folder_with(tmp_path, dockerfile)
    with pytest.raises(MedperfError, match=message):
        images.build_local(folder, settings_for(images=tmp_path / "store"), echo=lambda *_: None)
    assert images.find_local("me/c:1", settings_for(images=tmp_path / "store")) is None
    assert [p.name for p in (tmp_path / "store" / "me_c_1").iterdir()] == ["build.lock"]  # nothing half-built


def test_not_a_container_folder(tmp_path):
    with pytest.raises(MedperfError, match="no container_config.yaml"):
        images.build_local(tmp_path, settings_for(images=tmp_path / "store"))


def test_parallel_builds_of_one_image_share_one_result(tmp_path):
    import subprocess
    import sys

    folder = folder_with(tmp_path, "FROM x\nCOPY project /app\n", {"project/a.py": "x = 1\n"})
    code = ("import sys; from pathlib import Path; from medperf_lite import settings; "
            "from medperf_lite.containers import images; "
            "image, built = images.build_local(Path(sys.argv[1]), settings.current().but(images=Path(sys.argv[2])), "
            "echo=lambda *_: None); "
            "print(built, image.path)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(folder), str(tmp_path / "store")], stdout=subprocess.PIPE,
                              text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(o[0] for o in outputs) == ["False", "False", "True"] and len({o[1] for o in outputs}) == 1


@pytest.mark.parametrize("line", ["ENV LD_PRELOAD=/mlcommons/volumes/out/x.so", "ENV LD_LIBRARY_PATH /tmp/lib",
                                  "ENV PYTHONPATH=/project:/tmp/evil"])
def test_a_dockerfile_that_sets_a_loader_variable_is_refused(tmp_path, line):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "container_config.yaml").write_text("image: evil\ntasks: {t: {run_args: {command: x}}}\n")
    (folder / "Dockerfile").write_text(f"FROM python:3.11\n{line}\n")
    with pytest.raises(MedperfError, match="ENV .* is refused"):
        images.build_local(folder, settings_for(images=tmp_path / "store"), echo=lambda *_: None)
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("image.json"))


def test_each_home_runs_what_it_built_under_a_name(tmp_path, monkeypatch):
    """Two runs build one image name from different folders (a broken copy beside the original,
    in parallel tests): each home's runs resolve the name to their own build, whichever was last."""
    store = tmp_path / "store"
    original = folder_with(tmp_path / "a", "FROM x\nCOPY project /app\n", {"project/learner.py": "ok\n"})
    broken = folder_with(tmp_path / "b", "FROM x\nCOPY project /app\n", {"project/learner.py": "broken\n"})
    in_home(monkeypatch, tmp_path / "home-a")
    mine, _ = images.build_local(original, settings_for(images=store), echo=lambda *_: None)
    in_home(monkeypatch, tmp_path / "home-b")
    theirs, _ = images.build_local(broken, settings_for(images=store), echo=lambda *_: None)
    assert images.find_local("me/c:1", settings_for(images=store)).hash == theirs.hash
    in_home(monkeypatch, tmp_path / "home-a")
    assert images.find_local("me/c:1", settings_for(images=store)).hash == mine.hash != theirs.hash
    in_home(monkeypatch, tmp_path / "home-c")  # built in no home: the store's latest
    assert images.find_local("me/c:1", settings_for(images=store)).hash == theirs.hash


def test_what_a_base_image_provides_is_installed_instead_of_it(tmp_path):
    subs_file = tmp_path / "subs.txt"
    subs_file.write_text("torch==2.13.0\nFROM flwr/base:1.25.0-py3.13-ubuntu24.04 flwr==1.25.0  # its package\n")
    subs = substitutions.load_substitutions(subs_file)
    assert substitutions.base_packages(subs, "flwr/base:1.25.0-py3.13-ubuntu24.04") == ["flwr==1.25.0"]
    assert substitutions.base_packages(subs, "python:3.11") == []
    from medperf_lite.containers.docker_build import docker_dockerfile

    text, notes = docker_dockerfile("FROM flwr/base:1.25.0-py3.13-ubuntu24.04\nRUN pip install torch==2.8.0\n", subs)
    lines = text.splitlines()
    assert lines[0] == "FROM medperf-lite/base:bookworm"
    provided = next(i for i, line in enumerate(lines) if "flwr==1.25.0" in line)
    torch = next(i for i, line in enumerate(lines) if "torch==2.13.0" in line)
    assert lines[provided].startswith("RUN pip install") and provided < torch
    assert any("its flwr==1.25.0 installed instead" in n for n in notes)
    subs_file.write_text("FROM flwr/base:1.25.0\n")
    with pytest.raises(MedperfError, match="'FROM IMAGE REQUIREMENT...' expected"):
        substitutions.load_substitutions(subs_file)
