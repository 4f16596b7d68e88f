"""Folders as gzipped tar archives for the server's file store (startup kits, plans), made
reproducibly and unpacked safely: no absolute paths, no ``..``, no links or devices."""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
from pathlib import Path, PurePosixPath

from medperf_lite.errors import MedperfError

FIXED_MTIME = 946684800  # 2000-01-01: the same bytes for the same content


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


def unpack(archive: bytes, dest: Path, what: str = "archive") -> Path:
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
