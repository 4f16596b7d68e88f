"""NVFlare startup kits: provisioned with NVFlare's own API, packed as archives for the
server's file store, unpacked safely (no absolute paths, no ``..``, no links).
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import io
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from medperf_lite.errors import MedperfError

ORG = "medperf"
FIXED_MTIME = 946684800  # 2000-01-01: reproducible archives (NVFlare zips jobs, ZIP needs >= 1980)


def project(name: str, address: str, fl_port: int, admin_port: int, clients: list[str],
            admin_email: str) -> dict:
    """The project description NVFlare's provisioning takes (as ``project.yml`` would)."""
    participants = [{"name": address, "type": "server", "org": ORG, "fed_learn_port": fl_port,
                     "admin_port": admin_port}]
    participants += [{"name": label, "type": "client", "org": ORG} for label in clients]
    participants.append({"name": admin_email, "type": "admin", "org": ORG, "role": "project_admin"})
    builders = [
        {"path": "nvflare.lighter.impl.workspace.WorkspaceBuilder"},
        {"path": "nvflare.lighter.impl.static_file.StaticFileBuilder", "args": {"config_folder": "config"}},
        {"path": "nvflare.lighter.impl.cert.CertBuilder"},
        {"path": "nvflare.lighter.impl.signature.SignatureBuilder"},
    ]
    return {"api_version": 3, "name": name, "description": "medperf-lite training event",
            "participants": participants, "builders": builders}


def provision(description: dict) -> dict[str, bytes]:
    """Runs NVFlare's provisioning; returns one archive per participant name."""
    from nvflare.lighter.provision import prepare_builders, prepare_project
    from nvflare.lighter.provisioner import Provisioner

    names = [p["name"] for p in description["participants"]]
    with tempfile.TemporaryDirectory(prefix="medperf-lite-provision-") as workspace:
        quiet = io.StringIO()
        try:  # provisioning reports every step; keep it for errors only
            with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
                project_ = prepare_project(copy.deepcopy(description))
                Provisioner(workspace, prepare_builders(copy.deepcopy(description))).provision(project_)
        except (ValueError, RuntimeError) as e:
            raise MedperfError(f"NVFlare provisioning failed: {e}") from None
        prod = sorted((Path(workspace) / description["name"]).glob("prod_*"))
        if not prod:
            raise MedperfError("NVFlare provisioning produced no startup kits")
        return {name: pack(prod[-1] / name) for name in names}


def pack(folder: Path) -> bytes:
    """A gzipped tar of the folder, the same bytes for the same content (no timestamps)."""

    def plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime, info.uid, info.gid, info.uname, info.gname = FIXED_MTIME, 0, 0, "", ""
        return info

    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for path in sorted(folder.rglob("*")):
            if "__pycache__" not in path.parts:
                tar.add(path, arcname=str(path.relative_to(folder)), recursive=False, filter=plain)
    return buffer.getvalue()


def unpack_plain(archive: bytes, dest: Path, what: str = "archive") -> Path:
    """Extracts into ``dest`` (emptied first); refuses unsafe or malformed archives."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                name = PurePosixPath(member.name)
                if name.is_absolute() or ".." in name.parts:
                    raise MedperfError(f"{what} refused: unsafe path '{member.name}' in the archive")
                if not (member.isfile() or member.isdir()):
                    raise MedperfError(f"{what} refused: '{member.name}' is not a plain file or folder")
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as e:
        raise MedperfError(f"{what} refused: it is damaged ({e})") from None
    return dest


def unpack(archive: bytes, dest: Path) -> Path:
    """Extracts a startup kit; refuses unsafe archives and folders that are not kits."""
    unpack_plain(archive, dest, "startup kit")
    if not (dest / "startup").is_dir():
        raise MedperfError("startup kit refused: it has no startup/ folder")
    return dest
