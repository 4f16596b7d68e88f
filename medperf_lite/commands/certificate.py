"""medperf certificate ..., in both flows.

NVFlare flow: the certificates travel inside the startup kits set_plan stored, so
get_client_certificate / get_server_certificate fetch the caller's own kit.

MedPerf main's flow: certificates come from the CA the profile names (its
certificate_authority_id, checked against its certificate_authority_fingerprint), through the
CA's containers: ``trust`` puts its root certificate in the user's ``cas/<ca>/ca_cert``;
``get_client_cert`` / ``get_server_cert`` write key.key and crt.crt into the user's pki assets,
laid out as MedPerf lays them out (``.pki_assets/[signing/]<base64 of the name>/<ca>/``). Keys
never leave the user's storage; only a client certificate reaches the server, once the CA's
``verify_cert`` and medperf-lite's own check (issued by the trusted root, valid now, for the
user's e-mail) have passed.
"""

from __future__ import annotations

import base64
import json
import shutil
import uuid
from pathlib import Path

from medperf_lite import certificates, rules
from medperf_lite.commands import Session, confirm
from medperf_lite.commands.nodes import experiment_dir, fetch_kit, fresh, run_step
from medperf_lite.errors import MedperfError

KEY_FILE, CERT_FILE, ROOT_FILE = "key.key", "crt.crt", "root.crt"


def get(session: Session, exp_id: int, role: str) -> Path:
    """The NVFlare flow's certificates: the caller's startup kit."""
    if session.home.flow == "flower":
        form = "--key_type EC" if role == "client" else "-a AGGREGATOR_ID"
        raise MedperfError(f"this home follows MedPerf main's flow, which has no startup kits; there it is "
                           f"'medperf certificate get_{role}_certificate {form}'")
    return fetch_kit(session, exp_id, role, experiment_dir(session, exp_id, "certificates", role))


# ---------------------------------------------------------------- MedPerf main


def require_flower(session: Session, command: str, nvflare_form: str) -> None:
    if session.home.flow != "flower":
        raise MedperfError(f"'medperf certificate {command}' with these options is MedPerf main's; this home follows "
                           f"MedPerf's NVFlare flow, where it is '{nvflare_form}'")


def pki_dir(session: Session, common_name: str, ca_id: int, key_type: str) -> Path:
    """Where this user keeps the key and certificate for a common name, as MedPerf does."""
    encoded = base64.b64encode(common_name.encode()).decode().rstrip("=").replace("/", "_")
    parts = ("signing", encoded) if key_type == "EC" else (encoded,)
    return session.home.user_dir(session.user, ".medperf_config", ".pki_assets", *parts) / str(ca_id)


def ca_id(session: Session) -> int:
    value = session.home.ca_setting("certificate_authority_id")
    if isinstance(value, bool) or not isinstance(value, int):
        raise MedperfError(f"the profile's certificate_authority_id {value!r} is not a CA's ID; "
                           "set it with 'medperf profile set --certificate_authority_id ID'")
    return value


def ca_folder(session: Session, ca: int) -> Path:
    return session.home.user_dir(session.user, "cas", str(ca))


def _ca_run(session: Session, ca: dict, which: str, command: str, task: str, pki: Path, log_name: str,
            env: dict | None = None) -> None:
    """One of the CA's containers on its config (ca_config.json, written from the CA record)."""
    folder = ca_folder(session, ca["id"])
    config = folder / "ca_config.json"
    config.write_text(json.dumps(ca["config"], indent=1))
    container = rules.get(session.state(), "containers", ca[f"{which}_container"], "CA container")
    run_step(session, command, task, container, {"ca_config": config, "pki_assets": pki},
             folder / "logs" / f"{log_name}.log", timeout=120, env=env)


def trust(session: Session) -> tuple[dict, Path]:
    """The profile's CA, its fingerprint checked, and its root certificate in this user's
    ca_cert folder (fresh from the CA's trust task, as MedPerf does before every FL task)."""
    ca = ca_id(session)
    record = {**session.run(rules.trusted_ca, ca, str(session.home.ca_setting("certificate_authority_fingerprint"))),
              "id": ca}
    cert_dir = fresh(ca_folder(session, ca) / "ca_cert")
    try:
        _ca_run(session, record, "ca", "certificate trust", "trust", cert_dir, "trust")
    except MedperfError as e:
        raise MedperfError(f"trusting CA {ca} failed: {e.message}") from None
    if not (cert_dir / ROOT_FILE).is_file():
        raise MedperfError(f"CA {ca}'s trust task wrote no {ROOT_FILE} into its ca_cert folder ({cert_dir})")
    return record, cert_dir


def _issue(session: Session, common_name: str, key_type: str, overwrite: bool, command: str, task: str,
           which: str) -> Path:
    key_type = key_type.upper()
    ca = ca_id(session)
    out = pki_dir(session, common_name, ca, key_type)
    if out.exists() and not overwrite:
        raise MedperfError("Cert and key already present. Rerun the command with --overwrite")
    record, _ = trust(session)  # before anything is replaced: a CA that cannot be trusted leaves the old key
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = {"MEDPERF_KEY_TYPE": key_type} if which == "client" else {"MEDPERF_INPUT_CN": common_name}
    try:
        _ca_run(session, record, which, command, task, out, task, env)
        for name in (KEY_FILE, CERT_FILE):
            if not (out / name).is_file() or not (out / name).stat().st_size:  # a failed sign.sh exits 0
                raise MedperfError(f"CA {ca}'s {task} task wrote no {name} ({out}; its log: "
                                   f"{ca_folder(session, ca) / 'logs' / (task + '.log')})")
        (out / KEY_FILE).chmod(0o600)
    except MedperfError:
        shutil.rmtree(out, ignore_errors=True)  # no half certificate left behind
        raise
    return out


def get_client(session: Session, key_type: str, overwrite: bool) -> Path:
    require_flower(session, "get_client_certificate", "medperf certificate get_client_certificate -t EXP")
    rules.require_key_type(key_type.upper())
    return _issue(session, session.user, key_type, overwrite, "certificate get_client_certificate",
                  "get_client_cert", "client")


def get_server(session: Session, aggregator_id: int, overwrite: bool) -> Path:
    """A server certificate for an aggregator's address (its owner only: the CA certifies the
    address for whoever controls it)."""
    require_flower(session, "get_server_certificate", "medperf certificate get_server_certificate -t EXP")
    state = session.state()
    agg = rules.get(state, "aggregators", aggregator_id, "aggregator")
    rules.require_owner(state, session.user, agg, "aggregator", aggregator_id)
    return _issue(session, agg["address"], "RSA", overwrite, "certificate get_server_certificate",
                  "get_server_cert", "server")


def submit(session: Session, key_type: str, yes: bool) -> int:
    """The user's client certificate to the server, once the CA verified it."""
    require_flower(session, "submit_client_certificate", "startup kits, stored by set_plan")
    key_type = rules.require_key_type(key_type.upper())
    ca = ca_id(session)
    cert_file = pki_dir(session, session.user, ca, key_type) / CERT_FILE
    if not cert_file.is_file():
        raise MedperfError("No local certificate found. Please run the 'medperf certificate get_client_certificate' "
                           "command to obtain a certificate before running the submit command.")
    pem = cert_file.read_bytes()
    record, cert_dir = trust(session)
    certificates.check(pem, (cert_dir / ROOT_FILE).read_bytes(), session.user, f"CA {ca}")
    candidate = fresh(ca_folder(session, ca) / "verify")
    (candidate / CERT_FILE).write_bytes(pem)
    try:
        _ca_run(session, record, "ca", "certificate submit_client_certificate", "verify_cert", candidate, "verify_cert")
    except MedperfError as e:
        raise MedperfError(f"Failed to verify the certificate: {e.message}") from None
    finally:
        shutil.rmtree(candidate, ignore_errors=True)
    confirm("When submitting your certificate, your e-mail will be visible to the owners of the training "
            "experiments your datasets take part in. Do you wish to proceed?", yes)
    return session.run(rules.submit_certificate, ca, key_type, base64.b64encode(pem).decode(), uuid.uuid4().hex)


def delete(session: Session, key_type: str, yes: bool) -> int | None:
    """Invalidates the user's certificate on the server and deletes the local key and certificate."""
    require_flower(session, "delete_client_certificate", "startup kits, stored by set_plan")
    key_type = rules.require_key_type(key_type.upper())
    confirm("Please confirm that you would like to delete your current certificate. This action cannot be undone.", yes)
    ca = ca_id(session)
    invalidated = session.run(rules.invalidate_certificate, ca, key_type)
    shutil.rmtree(pki_dir(session, session.user, ca, key_type), ignore_errors=True)
    return invalidated


def status(session: Session, key_type: str) -> str:
    """MedPerf's check_client_certificate: the local certificate against the submitted one."""
    require_flower(session, "check_client_certificate", "startup kits, stored by set_plan")
    key_type = rules.require_key_type(key_type.upper())
    ca = ca_id(session)
    local = pki_dir(session, session.user, ca, key_type)
    if local.exists() and not ((local / KEY_FILE).is_file() and (local / CERT_FILE).is_file()):
        shutil.rmtree(local)  # a half certificate is no certificate (MedPerf removes it too)
    found = session.check(rules.user_certificate, ca, key_type)
    here = local.exists()
    if found is None:
        return "Certificate exists locally. Certificate not submitted." if here else "No certificates found."
    if not here or base64.b64decode(found[1]["content"]) != (local / CERT_FILE).read_bytes():
        return "Certificate seems to be invalid. Consider deleting the certificate."
    return "Certificate exists and is already submitted."


def folders(session: Session, common_name: str, key_type: str) -> dict[str, Path]:
    """MedPerf main's node and CA certificate folders: the CA trusted afresh (its root into
    ca_cert), and the user's own key and certificate for ``common_name``."""
    _, ca_cert = trust(session)
    node = pki_dir(session, common_name, ca_id(session), key_type)
    if not (node / CERT_FILE).is_file():
        how = ("medperf certificate get_client_certificate --key_type EC" if key_type == "EC"
               else "medperf certificate get_server_certificate -a AGGREGATOR_ID")
        raise MedperfError(f"no {key_type} certificate for {common_name} on this machine; run '{how}' first")
    return {"node_cert_folder": node, "ca_cert_folder": ca_cert}
