"""An image for the Docker runner: the container folder's Dockerfile built offline on
medperf-lite's debootstrap base (no registry is reachable), its pip installs rewritten as for
the local build (substitutions; package sources other than the configured index dropped; pip
``--isolated`` from any PIP_* setting), tagged with the folder's content hash and pinned in the
home (images.pin) so that a run uses what it built.
"""

from __future__ import annotations

import hashlib
import posixpath
import shlex
import shutil
import subprocess
import time
from pathlib import Path, PurePosixPath

from medperf_lite.containers.dockerfile import ASSIGNMENT, Recipe, _instructions, parse_dockerfile, pip_install, run_parts
from medperf_lite.containers.images import content_hash, owner_writable, pin, read_folder
from medperf_lite.containers.substitutions import (
    base_packages,
    load_substitutions,
    normalize,
    pip_arguments,
    rewrite_requirements,
)
from medperf_lite.errors import MedperfError
from medperf_lite.inputs import read_file
from medperf_lite.settings import Settings

BASE = "medperf-lite/base:bookworm"
BASE_PACKAGES = "python3,python3-pip,python3-venv,ca-certificates"
BASE_LINKS = "python->python3"  # in the base's tag: a change of either builds it again
DEBIAN_MIRROR = "http://deb.debian.org/debian"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def engine():
    """The Docker engine of DOCKER_HOST (or the default socket), answering; else a one-line error."""
    import docker
    import requests

    try:
        client = docker.from_env(timeout=30)
        client.ping()
        return client
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as e:
        raise MedperfError(f"no Docker engine is reachable ({type(e).__name__}); start one or use --runner local") from None


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

    tag = f"medperf-lite/base:src-{hashlib.sha256((BASE_PACKAGES + DEBIAN_MIRROR + BASE_LINKS).encode()).hexdigest()[:12]}"
    if has_docker_image(client, tag) and has_docker_image(client, BASE):
        return False
    if shutil.which("debootstrap") is None:  # the build script (make images) installs it
        raise MedperfError("building medperf-lite's base image needs debootstrap: install it "
                           "('apt-get install debootstrap'), or run 'make images', which does")
    echo("building the base image with debootstrap (Debian bookworm, minbase)")
    with tempfile.TemporaryDirectory(prefix="medperf-lite-rootfs-") as rootfs:
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm", rootfs,
                        DEBIAN_MIRROR], check=True, stdout=subprocess.DEVNULL)
        shutil.rmtree(Path(rootfs) / "var" / "cache" / "apt" / "archives", ignore_errors=True)
        python = Path(rootfs) / "usr" / "bin" / "python"
        if not python.exists():  # `python`, as in the python and flwr/base images ours stands in for
            python.symlink_to("python3")
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


def docker_dockerfile(text: str, subs: dict[str, str], context: Path | None = None,
                      recipe: Recipe | None = None) -> tuple[str, list[str]]:
    """The Dockerfile on medperf-lite's base: its FROM replaced (with the host's CA bundle,
    this machine's wheels and pip settings), its pip installs read as pip reads them (foreign
    package sources dropped, substitutions applied, isolated from PIP_* settings), and their
    requirement files in ``context`` rewritten alike (``recipe``: the text's, when already read)."""
    recipe = recipe or parse_dockerfile(text)
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
            provided = base_packages(subs, rest.split()[0] if rest.split() else "")
            if provided:
                notes.append(f"FROM {rest}: its {' '.join(provided)} installed instead (a substitution)")
                out.append("RUN " + shlex.join(["pip", "install", *DOCKER_PIP, *pip_arguments(provided, subs, image_file)[0]]))
            continue
        if keyword in ("ENV", "ARG"):
            words = shlex.split(rest)
            if keyword == "ENV" and words and "=" not in words[0]:  # ENV KEY value: one variable
                kept = [] if words[0].upper().startswith("PIP_") else words
            else:
                kept = [w for w in words if not w.upper().startswith("PIP_")]
            if len(kept) != len(words):
                notes.append(f"dropped pip settings from '{keyword} {rest}' (only the configured package index is used)")
                if not kept:
                    continue
                rest = shlex.join(kept)
        if keyword == "RUN":
            parts = []
            for part, words in run_parts(rest):
                args = pip_install(words) if words else None
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


def build_docker(folder: Path, config: Settings, tag: str | None = None, substitutions: Path | None = None,
                 echo=print) -> tuple[str, bool]:
    """Builds the folder's image in the Docker engine, offline, on medperf-lite's base, with the
    wheels of ``config.wheels`` that the substitutions name (the torch CPU build); pins it in
    ``config``'s home. Returns the tag and whether it was built (an image with this content's
    hash tag is kept)."""
    import tempfile

    folder = folder.resolve()
    container, recipe = read_folder(folder)
    name = tag or container["image"]
    subs = load_substitutions(substitutions)
    client = engine()
    build_base(client, echo)
    # the base's ID too: an image built on an older base is not this content's
    digest = content_hash(folder, {**subs, "(base image)": client.images.get(BASE).id})
    hash_tag = f"{name.rsplit(':', 1)[0] if ':' in name.rsplit('/', 1)[-1] else name}:src-{digest}"
    if has_docker_image(client, hash_tag):  # this content is built: the name stands for it again
        client.images.get(hash_tag).tag(name)
        pin(config, name, "docker", hash_tag)
        return name, False
    with tempfile.TemporaryDirectory(prefix="medperf-lite-build-") as tmp:
        context = Path(tmp) / "context"
        shutil.copytree(folder, context, ignore=shutil.ignore_patterns("__pycache__"))
        owner_writable(context)
        extra = context / ".medperf-lite"
        (extra / "wheels").mkdir(parents=True)
        shutil.copy(CA_BUNDLE, extra / "ca-certificates.crt")
        for wheel in (w for folder in config.wheels if folder.is_dir() for w in sorted(folder.glob("*.whl"))):
            if normalize(wheel.name.split("-")[0]) in subs:
                shutil.copy(wheel, extra / "wheels" / wheel.name)
        dockerfile, notes = docker_dockerfile((context / "Dockerfile").read_text(), subs, context, recipe)
        for note in notes:
            echo(f"  Dockerfile: {note}")
        (context / "Dockerfile").write_text(dockerfile)
        started = time.monotonic()
        import docker.errors

        try:
            client.images.build(path=str(context), tag=hash_tag, network_mode="host", rm=True, forcerm=True)
        except (docker.errors.BuildError, docker.errors.APIError) as e:  # BuildError carries the build log
            lines = [str(line.get("stream", line.get("error", ""))).strip() for line in getattr(e, "build_log", [])]
            tail = " | ".join(line for line in lines if line)[-600:]
            raise MedperfError(f"docker build of {name} failed: {tail or e}") from None
    client.images.get(hash_tag).tag(name)  # built under its hash tag: a parallel build of the name cannot swap it
    pin(config, name, "docker", hash_tag)
    echo(f"docker image {name} built in {time.monotonic() - started:.0f} s")
    return name, True
