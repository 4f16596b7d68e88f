"""What medperf-lite itself checks of a certificate before it reaches the server (MedPerf
main's flow): issued by the CA the user trusts, valid now, and for the user's e-mail. A CA
container's own verify_cert may check less (MedPerf's mock CA checks only that the file
exists); these checks hold whichever CA runs."""

from __future__ import annotations

import datetime

from medperf_lite.errors import MedperfError


def check(pem: bytes, root_pem: bytes, common_name: str, ca: str) -> None:
    """Refuses, in one line, a certificate not issued by ``root_pem``, not valid now, or not
    for ``common_name``."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise MedperfError("the local crt.crt is not a PEM certificate") from None
    try:
        root = x509.load_pem_x509_certificate(root_pem)
    except ValueError:
        raise MedperfError(f"{ca}'s root certificate is not a PEM certificate") from None
    try:
        cert.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        raise MedperfError(f"the certificate was not issued by {ca} (issuer: {cert.issuer.rfc4514_string()[:120]}); "
                           "get one from it with 'medperf certificate get_client_certificate --overwrite'") from None
    now = datetime.datetime.now(datetime.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise MedperfError(f"the certificate is not valid now (valid from {cert.not_valid_before_utc:%Y-%m-%d %H:%M} "
                           f"to {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC); get a new one with "
                           "'medperf certificate get_client_certificate --overwrite'")
    names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [common_name]:
        raise MedperfError(f"the certificate is for {names[0] if names else 'no common name'!r}, not for you "
                           f"({common_name})")
