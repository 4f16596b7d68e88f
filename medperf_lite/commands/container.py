"""medperf container submit."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from medperf_lite import rules
from medperf_lite.commands import Session
from medperf_lite.containers import check as config_check
from medperf_lite.containers import config as container_config
from medperf_lite.errors import MedperfError
from medperf_lite.inputs import fetch_text


def _fetch(location: str, expected_hash: str | None) -> tuple[str, Path | None]:
    """The file's text, fetched once: the hash is checked on the very text that is stored."""
    text, path = fetch_text(location)
    if expected_hash is not None:
        actual = hashlib.sha256(text.encode()).hexdigest()
        if actual != expected_hash.lower():
            raise MedperfError(f"{location} has sha256 {actual}, not the expected {expected_hash}")
    return text, path


MAX_ADDITIONAL = 256 << 20  # bytes of a container's additional files (MedPerf's -a tarball)


def _additional(session: Session, location: str, expected_hash: str | None) -> str:
    """MedPerf's -a tarball (initial weights ...): a local .tar.gz, its hash checked, its
    members safe, stored as a blob; the tasks get it unpacked as additional_files."""
    import tempfile
    import urllib.parse

    from medperf_lite import archives

    parsed = urllib.parse.urlparse(location)
    if parsed.scheme not in ("", "file"):
        raise MedperfError(f"--additional-file {location}: nothing is downloaded here; give the tarball's path")
    path = Path(session.own_path(parsed.path if parsed.scheme == "file" else location))
    if not path.is_file():
        raise MedperfError(f"--additional-file {path} does not exist")
    if path.stat().st_size > MAX_ADDITIONAL:
        raise MedperfError(f"--additional-file {path} is larger than {MAX_ADDITIONAL >> 20} MiB")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if expected_hash is not None and actual != expected_hash.lower():
        raise MedperfError(f"{location} has sha256 {actual}, not the expected {expected_hash}")
    with tempfile.TemporaryDirectory() as tmp:
        archives.unpack(data, Path(tmp) / "x", f"--additional-file {path}")
    return session.home.store.put_blob(data)


def submit(session: Session, name: str, config_file: str, parameters_file: str | None,
           config_hash: str | None = None, parameters_hash: str | None = None,
           additional_file: str | None = None, additional_hash: str | None = None) -> int:
    config_file = session.own_path(config_file)
    text, path = _fetch(config_file, config_hash)
    config, source = container_config.parse(text, path, config_file)
    findings = config_check.findings(config, text, config_file)
    parameters = None
    if parameters_file:
        parameters_file = session.own_path(parameters_file)
        parameters = container_config.parse_parameters(_fetch(parameters_file, parameters_hash)[0], parameters_file)
    additional = _additional(session, additional_file, additional_hash) if additional_file else None
    cid = session.run(rules.submit_container, name, config, parameters, source, additional)
    for finding in findings:  # MedPerf accepts them: warned (once it is registered), not refused
        print(f"Warning: {finding}", file=sys.stderr)
    return cid
