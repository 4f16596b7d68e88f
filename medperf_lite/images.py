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
keeps its own pins (``images.json``: name → the local content hash, the Docker hash tag), which
both runners resolve first. Two runs that build one name from different folders at the same
time (a broken copy of a container beside the original, in parallel tests) each run their own.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from filelock import FileLock

from medperf_lite import pip_options, sandbox
from medperf_lite.contract import loader_refusal
from medperf_lite.errors import MedperfError
from medperf_lite.inputs import load_yaml, read_file, refuse_outside_links
from medperf_lite.store import atomic_write
from medperf_lite.world import FIXTURES

SUBSTITUTIONS = FIXTURES / "containers" / "substitutions.txt"  # the shipped ones (torch 2.13.0 ...)
PIP_ITSELF = re.compile(r"^pip([<>=!~].*)?$")
NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=[^=]\S*|[A-Za-z_][A-Za-z0-9_]*=")


# ---------------------------------------------------------------- the Dockerfile


@dataclass
class Recipe:
    """What medperf-lite takes from a Dockerfile."""

    base: str = ""
    copies: list[tuple[list[str], str]] = field(default_factory=list)  # (sources in the folder, image path)
    pips: list[list[str]] = field(default_factory=list)  # each pip install's arguments
    env: dict[str, str] = field(default_factory=dict)
    workdir: str | None = None
    entrypoint: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\s*\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def _exec_form(rest: str) -> list[str]:
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", rest]


def _pip_install(segment: list[str]) -> list[str] | None:
    """The arguments of a ``pip install`` command line, or None for any other command."""
    words = segment[1:] if segment[:1] == ["env"] else segment
    while words and ASSIGNMENT.fullmatch(words[0]):  # leading VAR=value assignments
        words = words[1:]
    if len(words) >= 2 and re.fullmatch(r"(/\S*/)?pip3?(\.\d+)?", words[0]) and words[1] == "install":
        return words[2:]
    if len(words) >= 4 and re.fullmatch(r"(/\S*/)?python3?(\.\d+)?", words[0]) and words[1:4] == ["-m", "pip", "install"]:
        return words[4:]
    return None


def parse_dockerfile(text: str, source: str = "Dockerfile") -> Recipe:
    recipe = Recipe()
    for keyword, rest in _instructions(text):
        try:
            _take(recipe, keyword, rest, source)
        except (ValueError, TypeError) as e:  # unbalanced quotes, broken exec-form JSON
            raise MedperfError(f"{source}: cannot read '{keyword} {rest[:200]}': {e}") from None
    if not recipe.base:
        raise MedperfError(f"{source}: no FROM line")
    return recipe


def _take(recipe: Recipe, keyword: str, rest: str, source: str) -> None:
    """One Dockerfile instruction into the recipe."""
    if keyword == "FROM":
        if recipe.base:
            raise MedperfError(f"{source}: multi-stage builds are not supported for the local runner")
        recipe.base = rest.split()[0] if rest else ""
    elif keyword in ("COPY", "ADD"):
        words = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ValueError("the exec form is a JSON list of strings")
        flags = [w for w in words if w.startswith("--")]
        if any(f.startswith("--from") for f in flags):
            raise MedperfError(f"{source}: COPY --from (multi-stage) is not supported for the local runner")
        words = [w for w in words if not w.startswith("--")]
        if len(words) < 2 or any("://" in w for w in words[:-1]):
            raise MedperfError(f"{source}: cannot take '{keyword} {rest}' (only local sources)")
        recipe.copies.append((words[:-1], words[-1]))
    elif keyword == "RUN":
        for part in re.split(r"\s*(?:&&|;|\|\|)\s*", rest):
            args = _pip_install(shlex.split(part)) if part.strip() else None
            if args is not None:
                recipe.pips.append(args)
            elif part.strip():
                recipe.skipped.append(" ".join(part.split()))
    elif keyword == "ENV":
        words = shlex.split(rest)
        if words and "=" not in words[0]:
            recipe.env[words[0]] = " ".join(words[1:])
        else:
            recipe.env.update(w.split("=", 1) for w in words if "=" in w)
        for name, value in recipe.env.items():
            why = loader_refusal(name, value)
            if why:
                raise MedperfError(f"{source}: ENV {why}")
    elif keyword == "WORKDIR":
        recipe.workdir = str(PurePosixPath(recipe.workdir or "/") / rest.strip())
    elif keyword == "ENTRYPOINT":
        recipe.entrypoint = _exec_form(rest)


# ---------------------------------------------------------------- substitutions


def load_substitutions(path: Path | None) -> dict[str, str]:
    """``name==version`` lines (comments and blanks ignored) → {normalized name: requirement};
    ``!name`` leaves the package out (its pin has no build for this machine's torch and the
    image's code does not import it): {normalized name: ""}."""
    if path is None:
        return {}
    subs = {}
    for line in read_file(path, f"substitutions file {path}").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = NAME.match(line.removeprefix("!"))
        if not match:
            raise MedperfError(f"substitutions file {path}: cannot read '{line}'")
        subs[_normalize(match.group(1))] = "" if line.startswith("!") else line
    return subs


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def substitute(requirement: str, subs: dict[str, str]) -> str:
    match = NAME.match(requirement.strip())
    if match and _normalize(match.group(1)) in subs:
        return subs[_normalize(match.group(1))]
    return requirement


def _option_words(option: pip_options.Option, image_file, local_path, notes: list[str]) -> list[str]:
    """What one pip option becomes for the image (see pip_options)."""
    shown = " ".join(option.words)
    if option.action == pip_options.INDEX:
        notes.append(f"dropped pip option '{shown}' (only the configured package index is used)")
        return []
    if option.action == pip_options.DROP:
        if option.name != "user":  # --user: into the image's environment, never a home folder
            notes.append(f"dropped pip option '{shown}' (the image's environment is where pip installs)")
        return []
    if option.action == pip_options.FILE:
        return [f"--{option.name}", str(image_file(option.value))]
    if option.action == pip_options.EDITABLE:
        pip_options.check_requirement(option.value)
        return ["--editable", local_path(option.value)]
    return [f"--{option.name}"] + ([option.value] if option.value is not None else [])


def _requirement(word: str, subs: dict[str, str], local_path, notes: list[str]) -> str:
    pip_options.check_requirement(word)
    if pip_options.is_path(word):
        return local_path(word)
    new = substitute(word, subs)
    if new != word:
        notes.append(f"'{word}' → '{new}'" if new else f"'{word}' left out")
    return new


def rewrite_requirements(text: str, subs: dict[str, str], image_file=None, local_path=None) -> tuple[str, list[str]]:
    """A requirements file for the image: substitutions applied, package sources other than the
    configured index dropped, nested ``-r``/``-c`` files mapped by ``image_file`` (and so
    rewritten too), local paths checked by ``local_path``; URLs refused."""
    image_file = image_file or (lambda path: path)
    local_path = local_path or (lambda path: path)
    lines, notes = [], []
    for line, words in pip_options.requirement_lines(text):
        if words[0].startswith("-"):
            kept = [w for o in pip_options.read_options(words)
                    for w in (_option_words(o, image_file, local_path, notes) if isinstance(o, pip_options.Option)
                              else [_requirement(o, subs, local_path, notes)])]
            if kept:
                lines.append(shlex.join(kept))
            continue
        requirement, _, options = line.partition(" --")
        for option in pip_options.read_options(shlex.split("--" + options)) if options else []:
            if not isinstance(option, pip_options.Option) or option.action != pip_options.KEEP:
                raise MedperfError(f"the requirement line '{line[:200]}' has options medperf-lite cannot take")
        new = _requirement(requirement.strip(), subs, local_path, notes)
        if new:
            lines.append(new if new != requirement.strip() else line)
    return "\n".join(lines) + "\n", notes


def pip_arguments(args: list[str], subs: dict[str, str], image_file, local_path=None) -> tuple[list[str], list[str]]:
    """A pip install's arguments for the image, read as pip reads them (pip_options): upgrades
    of pip itself and ``--user`` left out, ``-r``/``-c`` files mapped by ``image_file``,
    package sources other than the configured index dropped, local paths checked by
    ``local_path``, substitutions applied; URLs refused."""
    local_path = local_path or (lambda path: path)
    out: list[str] = []
    notes: list[str] = []
    for item in pip_options.read_options(args):
        if isinstance(item, pip_options.Option):
            out += _option_words(item, image_file, local_path, notes)
        elif not PIP_ITSELF.match(item):
            new = _requirement(item, subs, local_path, notes)
            if new:
                out.append(new)
    return out, notes


# ---------------------------------------------------------------- local images


def store_root() -> Path:
    from medperf_lite import settings

    return settings.current().images


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


def _pointer(slot: Path) -> Path:
    """The file naming the content a slot stands for, for this Python environment: an image's
    venv layers on the environment that built it, so two venvs sharing a store (the project's
    and mutmut's, say) each keep their own."""
    return slot / f"current-{hashlib.sha256(sys.prefix.encode()).hexdigest()[:8]}"


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


def _pins_path() -> Path:
    from medperf_lite import settings

    return settings.current().home / "images.json"


def _read_pins(path: Path) -> dict:
    try:
        pins = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return pins if isinstance(pins, dict) else {}


def pin(name: str, kind: str, ref: str) -> None:
    """Records in the home that ``name`` stands for ``ref`` (kind: "local" or "docker")."""
    path = _pins_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        pins = _read_pins(path)
        entry = pins.get(name) if isinstance(pins.get(name), dict) else {}
        pins[name] = {**entry, kind: ref}
        atomic_write(path, json.dumps(pins, indent=1, sort_keys=True).encode())


def pinned(name: str, kind: str) -> str | None:
    entry = _read_pins(_pins_path()).get(name)
    ref = entry.get(kind) if isinstance(entry, dict) else None
    return ref if isinstance(ref, str) else None


def find_local(name: str, root: Path | None = None) -> LocalImage | None:
    """The image ``name`` stands for: the content this home built under it, else the store's latest."""
    slot = (root or store_root()) / _slot(name)
    digest = pinned(name, "local")
    if digest and re.fullmatch(r"[0-9a-f]{16}", digest):
        image = _load_content(slot / digest)
        if image is not None:
            return image
    return _load(slot)


def docker_reference(name: str) -> str:
    """The Docker image to run for ``name``: this home's hash tag of it, else the tag itself."""
    return pinned(name, "docker") or name


def list_local(root: Path | None = None) -> list[LocalImage]:
    root = root or store_root()
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


def build_local(folder: Path, tag: str | None = None, substitutions: Path | None = None,
                root: Path | None = None, echo=print) -> tuple[LocalImage, bool]:
    """Prepares the folder's image for the local runner; returns it and whether it was built
    (False: the store already held this name with this content)."""
    folder = folder.resolve()
    config, recipe = read_folder(folder)
    name = tag or config["image"]
    subs = load_substitutions(substitutions)
    digest = content_hash(folder, subs)
    slot = (root or store_root()) / _slot(name)
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
    pin(name, "local", digest)
    return image, built


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

    def image_file(path: str, base: PurePosixPath = workdir, depth: int = 0) -> str:
        image_path = in_image(path, base, "pip requirement file")
        local = rootfs / str(image_path).lstrip("/")
        if depth > 8 or not local.is_file():
            raise MedperfError(f"pip requirement file {path} is not a file of the image (or nests too deep)")
        text, changed = rewrite_requirements(read_file(local, f"pip requirement file {path}"), subs,
                                             lambda nested: image_file(nested, image_path.parent, depth + 1),
                                             lambda package: str(in_image(package, workdir, "local package")))
        notes.extend(changed)
        local.with_name(local.name + ".medperf-lite").write_text(text)
        return f"{image_path}.medperf-lite"

    for args in recipe.pips:
        pip_args, changed = pip_arguments(args, subs, image_file,
                                          lambda package: str(in_image(package, workdir, "local package")))
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


def _machine_index_folders() -> list[Path]:
    """The local folders this machine's pip configuration installs from (``find-links``,
    ``file://`` indexes), bound read-only into a build's sandbox."""
    import os

    done = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True)
    values = [line.partition("=")[2].strip("'\"") for line in done.stdout.splitlines()]
    values += [v for k, v in os.environ.items() if k.startswith("PIP_")]
    found = []
    for word in " ".join(values).split():
        path = Path(word.removeprefix("file://"))
        if path.is_absolute() and path.exists() and not sandbox.in_system(path):
            found.append(path if path.is_dir() else path.parent)
    return list(dict.fromkeys(found))


def _sandboxed_pip(work: Path, venv: Path, dests: list[str], workdir: PurePosixPath, args: list[str], name: str) -> None:
    """``pip install args`` into the image's venv inside bubblewrap: the host read-only and
    its secrets masked (sandbox.root_binds), only the image's folder writable, its copies at
    their image paths, the machine's own index folders read-only, the network shared (the
    registry). Local packages' build hooks run here, never on the host."""
    import os

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
           **{k: v for k, v in os.environ.items() if k.startswith("PIP_") or k.lower().endswith("_proxy")}}
    try:
        done = subprocess.run(sandbox.with_environment(argv, env), env=sandbox.HOST_ENV, capture_output=True, text=True)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise MedperfError(f"pip install {' '.join(args)} failed for image {name}: {tail}")


# ---------------------------------------------------------------- Docker images

BASE = "medperf-lite/base:bookworm"
BASE_PACKAGES = "python3,python3-pip,python3-venv,ca-certificates"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
LOCAL_WHEELS = Path("/opt/wheels")  # this machine's wheels (the torch CPU build)


def engine():
    from medperf_lite.runners.docker import client

    return client()


def has_docker_image(client, tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def build_base(client, echo=print) -> bool:
    """medperf-lite's base image: a debootstrap of Debian bookworm (python3, pip); no registry."""
    import io
    import tarfile
    import tempfile

    tag = f"medperf-lite/base:src-{hashlib.sha256((BASE_PACKAGES + DEBIAN_MIRROR).encode()).hexdigest()[:12]}"
    if has_docker_image(client, tag) and has_docker_image(client, BASE):
        return False
    if shutil.which("debootstrap") is None:
        subprocess.run(["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", "debootstrap"], check=True, stdout=subprocess.DEVNULL)
    echo("building the base image with debootstrap (Debian bookworm, minbase)")
    with tempfile.TemporaryDirectory(prefix="medperf-lite-rootfs-") as rootfs:
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm", rootfs,
                        DEBIAN_MIRROR], check=True, stdout=subprocess.DEVNULL)
        shutil.rmtree(Path(rootfs) / "var" / "cache" / "apt" / "archives", ignore_errors=True)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            tar.add(rootfs, arcname=".")
        client.api.import_image_from_data(buffer.getvalue(), repository="medperf-lite/base", tag="bookworm",
                                          changes=["ENV PIP_BREAK_SYSTEM_PACKAGES=1", 'CMD ["python3"]'])
    client.images.get(BASE).tag(tag)
    return True


# pip in a Docker build reads neither the environment nor pip.conf (--isolated: no ENV, ARG or
# RUN line can point it elsewhere); what it needs of medperf-lite's base is given explicitly
DOCKER_PIP = ["--isolated", "--cert", "/etc/ssl/certs/medperf-lite-host-ca.crt", "--find-links",
              "/opt/medperf-lite-wheels", "--break-system-packages", "--disable-pip-version-check"]


def _context_file(context: Path, recipe: Recipe, image_path: PurePosixPath) -> Path | None:
    """The build context's file that the Dockerfile copies to ``image_path``."""
    for sources, dest in reversed(recipe.copies):
        target = PurePosixPath(recipe.workdir or "/") / dest
        for source in sources:
            local = context / source.lstrip("/")
            if local.is_dir() and image_path.is_relative_to(target):
                found = local / str(image_path.relative_to(target))
            elif len(sources) > 1 or dest.endswith("/"):
                found = local if image_path == target / local.name else None
            else:
                found = local if image_path == target else None
            if found is not None and found.is_file():
                return found
    return None


def docker_dockerfile(text: str, subs: dict[str, str], context: Path | None = None) -> tuple[str, list[str]]:
    """The Dockerfile on medperf-lite's base: its FROM replaced (with the host's CA bundle,
    this machine's wheels and pip settings), its pip installs read as pip reads them (foreign
    package sources dropped, substitutions applied, isolated from PIP_* settings), and their
    requirement files in ``context`` rewritten alike."""
    recipe = parse_dockerfile(text)
    out, notes = [], []
    header = (f"FROM {BASE}\nCOPY .medperf-lite/ca-certificates.crt /etc/ssl/certs/medperf-lite-host-ca.crt\n"
              "COPY .medperf-lite/wheels /opt/medperf-lite-wheels\n"
              "ENV PIP_CERT=/etc/ssl/certs/medperf-lite-host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 "
              "PIP_BREAK_SYSTEM_PACKAGES=1 PIP_FIND_LINKS=/opt/medperf-lite-wheels")
    workdir = PurePosixPath(recipe.workdir or "/")

    def image_file(path: str, base: PurePosixPath = workdir, depth: int = 0) -> str:
        image_path = PurePosixPath(posixpath.normpath(str(base / path)))
        local = _context_file(context, recipe, image_path) if context is not None else None
        if local is None or depth > 8:
            raise MedperfError(f"pip requirement file {path} is not copied by the Dockerfile from its folder")
        text, changed = rewrite_requirements(read_file(local, f"pip requirement file {path}"), subs,
                                             lambda nested: image_file(nested, image_path.parent, depth + 1))
        notes.extend(changed)
        local.write_text(text)
        return str(image_path)

    for keyword, rest in _instructions(text):
        if keyword == "FROM":
            notes.append(f"FROM {rest} → {BASE} (no registry here)")
            out.append(header)
            continue
        if keyword in ("ENV", "ARG"):
            words = shlex.split(rest)
            kept = words if words and "=" not in words[0] and keyword == "ENV" else \
                [w for w in words if not w.upper().startswith("PIP_")]
            if kept is words and words[0].upper().startswith("PIP_"):  # ENV KEY value: one variable
                kept = []
            if len(kept) != len(words):
                notes.append(f"dropped pip settings from '{keyword} {rest}' (only the configured package index is used)")
                if not kept:
                    continue
                rest = shlex.join(kept)
        if keyword == "RUN":
            parts = []
            for part in re.split(r"(\s*(?:&&|;|\|\|)\s*)", rest):
                words = shlex.split(part) if part.strip() and not re.fullmatch(r"\s*(?:&&|;|\|\|)\s*", part) else None
                args = _pip_install(words) if words else None
                if args is None:
                    parts.append(part)
                    continue
                command = [w for w in words[:len(words) - len(args)]  # without env and assignments
                           if w != "env" and not ASSIGNMENT.fullmatch(w)]
                kept, changed = pip_arguments(args, subs, image_file)
                notes.extend(changed)
                parts.append(shlex.join(command + DOCKER_PIP + kept) if [a for a in kept if not a.startswith("-")]
                             else "true")
            rest = "".join(parts)
        out.append(f"{keyword} {rest}")
    return "\n".join(out) + "\n", notes


def build_docker(folder: Path, tag: str | None = None, substitutions: Path | None = None, echo=print) -> tuple[str, bool]:
    """Builds the folder's image in the Docker engine, offline, on medperf-lite's base; returns
    the tag and whether it was built (an image with this content's hash tag is kept)."""
    import tempfile

    folder = folder.resolve()
    config, _ = read_folder(folder)
    name = tag or config["image"]
    subs = load_substitutions(substitutions)
    client = engine()
    build_base(client, echo)
    digest = content_hash(folder, subs)
    hash_tag = f"{name.rsplit(':', 1)[0] if ':' in name.rsplit('/', 1)[-1] else name}:src-{digest}"
    if has_docker_image(client, hash_tag):  # this content is built: the name stands for it again
        client.images.get(hash_tag).tag(name)
        pin(name, "docker", hash_tag)
        return name, False
    with tempfile.TemporaryDirectory(prefix="medperf-lite-build-") as tmp:
        context = Path(tmp) / "context"
        shutil.copytree(folder, context, ignore=shutil.ignore_patterns("__pycache__"))
        extra = context / ".medperf-lite"
        (extra / "wheels").mkdir(parents=True)
        shutil.copy(CA_BUNDLE, extra / "ca-certificates.crt")
        for wheel in LOCAL_WHEELS.glob("*.whl") if LOCAL_WHEELS.is_dir() else []:
            if _normalize(wheel.name.split("-")[0]) in subs:
                shutil.copy(wheel, extra / "wheels" / wheel.name)
        dockerfile, notes = docker_dockerfile((context / "Dockerfile").read_text(), subs, context)
        for note in notes:
            echo(f"  Dockerfile: {note}")
        (context / "Dockerfile").write_text(dockerfile)
        started = time.monotonic()
        try:
            client.images.build(path=str(context), tag=hash_tag, network_mode="host", rm=True, forcerm=True)
        except Exception as e:  # BuildError carries the build log
            lines = [str(line.get("stream", line.get("error", ""))).strip() for line in getattr(e, "build_log", [])]
            tail = " | ".join(line for line in lines if line)[-600:]
            raise MedperfError(f"docker build of {name} failed: {tail or e}") from None
    client.images.get(hash_tag).tag(name)  # built under its hash tag: a parallel build of the name cannot swap it
    pin(name, "docker", hash_tag)
    echo(f"docker image {name} built in {time.monotonic() - started:.0f} s")
    return name, True
