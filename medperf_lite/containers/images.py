"""Images, known by a container config's ``image`` name in both runners.

``medperf-lite image build DIR`` takes a container folder as MedPerf's authors write it
(``container_config.yaml``, a ``Dockerfile`` and the sources it copies) and makes its image
available to the local runner as a *local image* in the image store (``MEDPERF_LITE_IMAGES``,
default ``~/.cache/medperf-lite/images``):

- ``root/``: the Dockerfile's COPY/ADD sources, placed where the Dockerfile puts them; the
  local runner binds each destination at its image path, read-only;
- ``venv/``: a Python environment with the Dockerfile's pip installs and requirements. It sees
  this project's own environment (a ``.pth`` file), so only what differs is installed, and the
  project's environment is never changed;
- ``image.json``: the name, the content hash, and the Dockerfile's ENV, WORKDIR and ENTRYPOINT.

Pins that cannot be had on this machine are replaced by *substitutions* (``torch==2.13.0``:
any requirement of ``torch`` becomes ``torch==2.13.0``), in pip arguments and requirement files
alike; index URLs other than the configured ones are dropped (no other network is reachable).
RUN steps other than pip installs (``apt-get`` ...) cannot run on the host: they are listed as
skipped. An image whose name and content hash are already in the store is not rebuilt.

A name stands for the content last built under it, like a Docker tag, but per home: each home
keeps its own pins (``images.json``: name → the local content hash, the Docker hash tag, per
Python environment like the store's pointers), which both runners resolve first. Two runs that
build one name from different folders at the same time (a broken copy of a container beside the
original, in parallel tests) each run their own.
"""

from __future__ import annotations

import functools
import hashlib
import json
import posixpath
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from filelock import FileLock

from medperf_lite import settings
from medperf_lite.containers import sandbox
from medperf_lite.containers.dockerfile import Recipe, parse_dockerfile
from medperf_lite.containers.substitutions import base_packages, load_substitutions, pip_arguments, rewrite_requirements
from medperf_lite.errors import MedperfError
from medperf_lite.files import atomic_write
from medperf_lite.inputs import load_yaml, read_file, refuse_outside_links
from medperf_lite.settings import Settings

# ---------------------------------------------------------------- local images


def _slot(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def content_hash(folder: Path, subs: dict[str, str]) -> str:
    digest = hashlib.sha256(json.dumps([sorted(subs.items()), sys.version, sys.prefix]).encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@dataclass
class LocalImage:
    name: str
    hash: str
    path: Path
    env: dict[str, str]
    workdir: str | None
    entrypoint: list[str]
    copies: list[str]  # image paths bound from root/
    built: float
    skipped: list[str]
    notes: list[str]

    @property
    def python_bin(self) -> Path:
        return self.path / "venv" / "bin"

    def binds(self) -> list[tuple[Path, str]]:
        return [(self.path / "root" / dest.lstrip("/"), dest) for dest in self.copies]

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file() and not p.is_symlink())


ENVIRONMENT = hashlib.sha256(sys.prefix.encode()).hexdigest()[:8]  # this Python environment, in short


def _pointer(slot: Path) -> Path:
    """The file naming the content a slot stands for, for this Python environment: an image's
    venv layers on the environment that built it, so two venvs sharing a store (the project's
    and mutmut's, say) each keep their own."""
    return slot / f"current-{ENVIRONMENT}"


def _load(slot: Path) -> LocalImage | None:
    """The image a store slot now stands for: its pointer names a content hash, whose folder
    is complete once its image.json is written (builds never touch a finished one)."""
    try:
        digest = _pointer(slot).read_text().strip()
    except OSError:
        return None
    return _load_content(slot / digest) if re.fullmatch(r"[0-9a-f]{16}", digest) else None


def _load_content(folder: Path) -> LocalImage | None:
    try:
        return LocalImage(**{**json.loads((folder / "image.json").read_text()), "path": folder})
    except (OSError, ValueError, TypeError):
        return None


def _pins_path(config: Settings) -> Path:
    """The home's record of which content each image name stands for."""
    return config.home / "images.json"


def _read_pins(path: Path) -> dict:
    try:
        pins = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return pins if isinstance(pins, dict) else {}


def pin(config: Settings, name: str, kind: str, ref: str) -> None:
    """Records in the home that ``name`` stands for ``ref`` (kind: "local" or "docker")."""
    path = _pins_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        pins = _read_pins(path)
        entry = pins.get(name) if isinstance(pins.get(name), dict) else {}
        pins[name] = {**entry, f"{kind}@{ENVIRONMENT}": ref}  # per environment too, as the store's pointers
        atomic_write(path, json.dumps(pins, indent=1, sort_keys=True).encode())


def pinned(config: Settings, name: str, kind: str) -> str | None:
    entry = _read_pins(_pins_path(config)).get(name)
    ref = entry.get(f"{kind}@{ENVIRONMENT}") if isinstance(entry, dict) else None
    return ref if isinstance(ref, str) else None


def find_local(name: str, config: Settings) -> LocalImage | None:
    """The image ``name`` stands for: the content this home built under it, else the store's latest."""
    slot = config.images / _slot(name)
    digest = pinned(config, name, "local")
    if digest and re.fullmatch(r"[0-9a-f]{16}", digest):
        image = _load_content(slot / digest)
        if image is not None:
            return image
    return _load(slot)


def docker_reference(name: str, config: Settings) -> str:
    """The Docker image to run for ``name``: this home's hash tag of it, else the tag itself."""
    return pinned(config, name, "docker") or name


def list_local(config: Settings) -> list[LocalImage]:
    root = config.images
    found = [_load(slot) for slot in sorted(root.glob("*"))] if root.is_dir() else []
    return [image for image in found if image is not None]


def read_folder(folder: Path) -> tuple[dict, Recipe]:
    """A MedPerf container folder's config and Dockerfile recipe, checked."""
    folder = folder.resolve()
    refuse_outside_links(folder, "container folder")
    config_path = folder / "container_config.yaml"
    if not config_path.is_file():
        raise MedperfError(f"{folder} has no container_config.yaml: not a MedPerf container folder")
    config = load_yaml(read_file(config_path, str(config_path)), str(config_path))
    if not isinstance(config, dict) or not isinstance(config.get("image"), str) or not config["image"]:
        raise MedperfError(f"{config_path}: no 'image' name")
    dockerfile = folder / "Dockerfile"
    if not dockerfile.is_file():
        raise MedperfError(f"{folder} has no Dockerfile")
    return config, parse_dockerfile(read_file(dockerfile, str(dockerfile)), str(dockerfile))


def build_local(folder: Path, config: Settings, tag: str | None = None, substitutions: Path | None = None,
                echo=print) -> tuple[LocalImage, bool]:
    """Prepares the folder's image for the local runner, in ``config``'s image store (pinned in
    its home); returns it and whether it was built (False: the store already held this name
    with this content)."""
    folder = folder.resolve()
    container, recipe = read_folder(folder)
    name = tag or container["image"]
    subs = load_substitutions(substitutions)
    digest = content_hash(folder, subs)
    slot = config.images / _slot(name)
    slot.mkdir(parents=True, exist_ok=True)
    target = slot / digest
    # one build of a name at a time (parallel runs share the store); a finished content folder
    # is never changed, so tasks running from it are safe while another content is built
    with FileLock(str(slot / "build.lock")):
        built = not (target / "image.json").is_file()
        if built:
            started = time.monotonic()
            shutil.rmtree(target, ignore_errors=True)  # a build that died half-way
            try:
                _assemble(folder, recipe, name, digest, target, subs, echo)
            except BaseException:  # nothing half-built stays
                shutil.rmtree(target, ignore_errors=True)
                raise
            echo(f"local image {name} built in {time.monotonic() - started:.0f} s")
        atomic_write(_pointer(slot), digest.encode())
        image = _load_content(target)  # this content, even if another build moves the pointer next
    pin(config, name, "local", digest)
    return image, built


def owner_writable(root: Path) -> None:
    """Every file and folder below ``root`` writable by its owner, as in a checkout: an image's
    copied sources keep the modes a fresh clone gives them, whatever the folder they were built
    from (a read-only one must not make a task's ``cp -r /project x`` read-only)."""
    for path in (root, *root.rglob("*")):
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)


def _place(folder: Path, sources: list[str], dest: str, rootfs: Path) -> None:
    target = rootfs / dest.lstrip("/")
    many = len(sources) > 1 or dest.endswith("/")
    for pattern in sources:
        matches = sorted(folder.glob(pattern.lstrip("/"))) if any(c in pattern for c in "*?[") else [folder / pattern]
        for src in matches:
            src = src.resolve()
            if not src.is_relative_to(folder):
                raise MedperfError(f"COPY source {pattern} is outside the container folder {folder}")
            if not src.exists():
                raise MedperfError(f"COPY source {pattern} does not exist in {folder}")
            if src.is_dir():
                shutil.copytree(src, target, dirs_exist_ok=True, symlinks=False,
                                ignore=shutil.ignore_patterns("__pycache__"))
            else:
                out = target / src.name if many or target.is_dir() else target
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, out)


def _assemble(folder: Path, recipe: Recipe, name: str, digest: str, work: Path,
              subs: dict[str, str], echo) -> LocalImage:
    rootfs = work / "root"
    rootfs.mkdir(parents=True)
    dests = []
    for sources, dest in recipe.copies:
        if not dest.startswith("/"):
            dest = str(PurePosixPath(recipe.workdir or "/") / dest)
        if ".." in PurePosixPath(dest).parts:
            raise MedperfError(f"{folder}/Dockerfile: COPY destination {dest} climbs out with '..'")
        _place(folder, sources, dest, rootfs)
        dests.append(dest.rstrip("/") or "/")
    owner_writable(rootfs)
    if "/" in dests:
        raise MedperfError(f"{folder}/Dockerfile copies into / itself: name a folder for the local runner")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "_medperf_lite_project.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    notes: list[str] = []
    workdir = PurePosixPath(recipe.workdir or "/")

    def in_image(path: str, base: PurePosixPath, what: str) -> PurePosixPath:
        """An image path the Dockerfile copied (links were refused at read_folder)."""
        image_path = PurePosixPath(posixpath.normpath(str(base / path)))
        if path.startswith("~") or not any(image_path.is_relative_to(d) for d in dests) \
                or not (rootfs / str(image_path).lstrip("/")).exists():
            raise MedperfError(f"{what} {path} is not copied by the Dockerfile into the image before it is used")
        return image_path

    def local_package(path: str) -> str:
        return str(in_image(path, workdir, "local package"))

    def image_file(path: str, base: PurePosixPath = workdir, depth: int = 0) -> str:
        image_path = in_image(path, base, "pip requirement file")
        local = rootfs / str(image_path).lstrip("/")
        if depth > 8 or not local.is_file():
            raise MedperfError(f"pip requirement file {path} is not a file of the image (or nests too deep)")
        text, changed = rewrite_requirements(read_file(local, f"pip requirement file {path}"), subs,
                                             lambda nested: image_file(nested, image_path.parent, depth + 1),
                                             local_package)
        notes.extend(changed)
        local.with_name(local.name + ".medperf-lite").write_text(text)
        return f"{image_path}.medperf-lite"

    provided = base_packages(subs, recipe.base)
    if provided:
        echo(f"FROM {recipe.base}: its {' '.join(provided)} installed instead (a substitution)")
    for args in [provided] * bool(provided) + recipe.pips:
        pip_args, changed = pip_arguments(args, subs, image_file, local_package)
        notes.extend(changed)
        if not [a for a in pip_args if not a.startswith("-")]:
            continue
        echo(f"pip install {' '.join(pip_args)}")
        _sandboxed_pip(work, venv, dests, workdir, pip_args, name)
    for generated in rootfs.rglob("*.medperf-lite"):
        generated.unlink()
    image = LocalImage(name=name, hash=digest, path=work, env=recipe.env, workdir=recipe.workdir,
                       entrypoint=recipe.entrypoint, copies=dests, built=time.time(), skipped=recipe.skipped,
                       notes=notes)
    atomic_write(work / "image.json", json.dumps({k: v for k, v in asdict(image).items() if k != "path"}, indent=1).encode())
    return image


@functools.cache
def _machine_index_folders() -> tuple[Path, ...]:
    """The local folders this machine's pip configuration installs from (``find-links``,
    ``file://`` indexes), bound read-only into a build's sandbox; read once per process (it
    asks pip)."""
    done = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True)
    values = [line.partition("=")[2].strip("'\"") for line in done.stdout.splitlines()]
    values += list(settings.machine_pip_environment().values())
    found = []
    for word in " ".join(values).split():
        path = Path(word.removeprefix("file://"))
        if path.is_absolute() and path.exists() and not sandbox.in_system(path):
            found.append(path if path.is_dir() else path.parent)
    return tuple(dict.fromkeys(found))


def _sandboxed_pip(work: Path, venv: Path, dests: list[str], workdir: PurePosixPath, args: list[str], name: str) -> None:
    """``pip install args`` into the image's venv inside bubblewrap: the host read-only and
    its secrets masked (sandbox.root_binds), only the image's folder writable, its copies at
    their image paths, the machine's own index folders read-only, the network shared (the
    registry). Local packages' build hooks run here, never on the host."""

    rootfs = work / "root"
    tmpdir = work / "build-tmp"
    tmpdir.mkdir(exist_ok=True)
    argv = sandbox.base_command(tmpdir) + ["--bind", str(work), str(work)]
    for folder in _machine_index_folders():
        argv += ["--ro-bind", str(folder), str(folder)]
    for dest in dests:
        argv += ["--bind", str(rootfs / dest.lstrip("/")), dest]
    argv += ["--dir", str(workdir), "--chdir", str(workdir), "--", sys.executable, "-m", "pip", "--python",
             str(venv / "bin" / "python"), "install", "-q", "--disable-pip-version-check", "--no-cache-dir", *args]
    env = {**sandbox.HOST_ENV, "HOME": "/tmp", "TMPDIR": "/tmp",
           **settings.machine_pip_environment()}
    try:
        done = subprocess.run(sandbox.with_environment(argv, env), env=sandbox.HOST_ENV, capture_output=True, text=True)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise MedperfError(f"pip install {' '.join(args)} failed for image {name}: {tail}")
