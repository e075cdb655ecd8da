"""The merchant and platform keys shared by the WeChat Pay stand-in and the app talking to it.

Development and tests only: config refuses them in production.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.x509.oid import NameOID

DEV_KEYS_FILE = "var/wechatpay-standin/keys.json"
STANDIN_MCHID = "1900000109"
STANDIN_PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092026112200000000"
RSA_KEY_BITS = 2048
CERT_LIFETIME = timedelta(days=3650)


def _private_pem(key: RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _self_signed_certificate(key: RSAPrivateKey, serial: int) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA stand-in")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + CERT_LIFETIME)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


@dataclass(frozen=True)
class StandInPayKeys:
    """Everything a merchant and WeChat Pay share, for one stand-in merchant."""

    mchid: str
    merchant_private_key: str
    merchant_cert_serial_no: str
    platform_private_key: str
    platform_certificate: str
    public_key_id: str
    apiv3_key: str
    v2_api_key: str

    @classmethod
    def generate(cls) -> StandInPayKeys:
        merchant = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
        platform = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
        # WeChat serials are 40 hex digits; x509 caps serial numbers at 159 bits.
        platform_serial = secrets.randbits(156) | (1 << 155)
        return cls(
            mchid=STANDIN_MCHID,
            merchant_private_key=_private_pem(merchant),
            merchant_cert_serial_no=secrets.token_hex(20).upper(),
            platform_private_key=_private_pem(platform),
            platform_certificate=_self_signed_certificate(platform, platform_serial),
            public_key_id=STANDIN_PUBLIC_KEY_ID,
            apiv3_key=secrets.token_hex(16),
            v2_api_key=secrets.token_hex(16),
        )

    @cached_property
    def merchant_public_key(self) -> str:
        return public_pem(self.merchant_key.public_key())

    @cached_property
    def merchant_key(self) -> RSAPrivateKey:
        return _load_private(self.merchant_private_key)

    @cached_property
    def platform_key(self) -> RSAPrivateKey:
        return _load_private(self.platform_private_key)

    @cached_property
    def platform_public_key(self) -> str:
        return public_pem(self.platform_key.public_key())

    @cached_property
    def platform_serial_no(self) -> str:
        certificate = x509.load_pem_x509_certificate(self.platform_certificate.encode())
        return format(certificate.serial_number, "X")

    def to_json(self) -> str:
        return json.dumps(
            {name: getattr(self, name) for name in self.__dataclass_fields__}, indent=1
        )

    @classmethod
    def from_json(cls, text: str) -> StandInPayKeys:
        return cls(**json.loads(text))


def _load_private(pem: str) -> RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("the stand-in keys must be RSA")
    return key


def load_or_create_standin_keys(path: str | os.PathLike[str] = DEV_KEYS_FILE) -> StandInPayKeys:
    """The development keys at `path`, created (once, atomically) if missing."""
    target = Path(path)
    if target.exists():
        return StandInPayKeys.from_json(target.read_text())
    target.parent.mkdir(parents=True, exist_ok=True)
    keys = StandInPayKeys.generate()
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".keys-")
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(keys.to_json())
        # link() refuses to replace: when two processes race, the first file wins for both.
        try:
            os.link(temporary, target)
        except FileExistsError:
            return StandInPayKeys.from_json(target.read_text())
    finally:
        os.unlink(temporary)
    return keys
