"""The seeded world: the tutorial's users, container 1 and CA 1 owned by the built-in admin.

CA 1 is medperf-lite's test CA (fixtures/containers/medperf_ca): MedPerf main's flow gets its
certificates from it, the NVFlare flow associates it with an experiment (its certificates
travel in the startup kits). Its fingerprint is the SHA-256 of its root certificate.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.resources
import importlib.util

import yaml

from medperf_lite.files import FIXTURES
from medperf_lite.records import CA, Container, User
from medperf_lite.rules import Change

CA_FOLDER = FIXTURES / "containers" / "medperf_ca"


@functools.cache
def ca_fingerprint() -> str:
    """The built-in CA's fingerprint: the SHA-256 of its root certificate's DER."""
    pem = (CA_FOLDER / "project" / "root" / "root.crt").read_text()
    body = pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return hashlib.sha256(base64.b64decode("".join(body.split()))).hexdigest()


def ca_config() -> dict:
    """CA 1's config, in MedPerf's ca_config.json shape (its local server's CA_CONFIG)."""
    return {"address": "https://127.0.0.1", "port": 443, "fingerprint": ca_fingerprint(),
            "client_provisioner": "auth0", "server_provisioner": "acme"}


def load_fixture_module(relative: str):
    """Imports a script that lives in fixtures/ (not a package), e.g. the toy data generator."""
    path = FIXTURES / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seed() -> list[Change]:
    users = yaml.safe_load((FIXTURES / "users.yaml").read_text())
    changes: list[Change] = [
        ("users", i, User(email=u["email"], is_admin=bool(u.get("is_admin"))))
        for i, u in enumerate(users, start=1)
    ]
    ca_container = Container(name="medperf-ca", owner=1, source=None, parameters=None, additional=None,
                             config=yaml.safe_load((CA_FOLDER / "container_config.yaml").read_text()))
    changes.append(("containers", 1, ca_container))
    config = ca_config()
    changes.append(("cas", 1, CA(name="MedPerf CA", owner=1, config=config, fingerprint=config["fingerprint"],
                                 ca_container=1, client_container=1, server_container=1, address=config["address"],
                                 port=config["port"])))
    return changes
