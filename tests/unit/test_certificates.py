"""medperf-lite's own check of a certificate before it reaches the server: issued by the
trusted root, valid now, for the user's e-mail; each refusal in one line."""

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from medperf_lite import certificates, world
from medperf_lite.errors import MedperfError

ROOT = world.CA_FOLDER / "project" / "root"
NOW = datetime.datetime.now(datetime.UTC)


def pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make(cn: str, issuer_key, issuer_name, start=NOW - datetime.timedelta(hours=1),
         end=NOW + datetime.timedelta(days=1)) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP384R1())
    return (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(issuer_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end).sign(issuer_key, hashes.SHA384()))


@pytest.fixture(scope="module")
def root():
    key = serialization.load_pem_private_key((ROOT / "root.key").read_bytes(), password=None)
    return key, x509.load_pem_x509_certificate((ROOT / "root.crt").read_bytes())


def test_a_certificate_of_the_trusted_root_for_the_user_passes(root):
    key, cert = root
    certificates.check(pem(make("testdo@example.com", key, cert.subject)), pem(cert), "testdo@example.com", "CA 1")


@pytest.mark.parametrize("case, message", [
    ("other_ca", "the certificate was not issued by CA 1"),
    ("expired", "the certificate is not valid now"),
    ("not_yet", "the certificate is not valid now"),
    ("other_cn", "the certificate is for 'testdo2@example.com', not for you (testdo@example.com)"),
])
def test_a_foreign_expired_or_someone_elses_certificate_is_refused(root, case, message):
    key, cert = root
    other = ec.generate_private_key(ec.SECP384R1())
    made = {
        "other_ca": lambda: make("testdo@example.com", other, cert.subject),  # same issuer name, another key
        "expired": lambda: make("testdo@example.com", key, cert.subject, NOW - datetime.timedelta(days=9),
                                NOW - datetime.timedelta(days=1)),
        "not_yet": lambda: make("testdo@example.com", key, cert.subject, NOW + datetime.timedelta(days=1),
                                NOW + datetime.timedelta(days=9)),
        "other_cn": lambda: make("testdo2@example.com", key, cert.subject),
    }[case]()
    with pytest.raises(MedperfError) as e:
        certificates.check(pem(made), pem(cert), "testdo@example.com", "CA 1")
    assert e.value.message.startswith(message) and "\n" not in e.value.message


def test_what_is_no_certificate_is_said_so(root):
    _, cert = root
    with pytest.raises(MedperfError, match="the local crt.crt is not a PEM certificate"):
        certificates.check(b"", pem(cert), "a@b.org", "CA 1")
    with pytest.raises(MedperfError, match="CA 1's root certificate is not a PEM certificate"):
        certificates.check(pem(cert), b"junk", "a@b.org", "CA 1")
