"""Fixtures of the TLS tests: a CA made for the test session and certificates it signs."""

from __future__ import annotations

import pytest
from certs import CertificateAuthority, Issued


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("other-ca"), "another CA")


@pytest.fixture(scope="module")
def site_a(ca: CertificateAuthority) -> Issued:
    return ca.issue("a", ["a.test"])


@pytest.fixture(scope="module")
def site_a_ec(ca: CertificateAuthority) -> Issued:
    return ca.issue("a-ec", ["a.test"], "ec")


@pytest.fixture(scope="module")
def site_b(ca: CertificateAuthority) -> Issued:
    return ca.issue("b", ["b.test", "*.b.test"], "ec")


@pytest.fixture(scope="module")
def localhost_cert(ca: CertificateAuthority) -> Issued:
    return ca.issue("localhost", ["localhost", "127.0.0.1"])

