"""The tool's own RSA key: published at ``/lti/jwks`` for platforms to verify what the tool signs.

Created once (2048-bit RSA, PEM, mode 0600) where ``LTI_PRIVATE_KEY_FILE`` points, so every worker
on the host publishes the same key; on several hosts, give them the same file. To rotate, put a
new file in place and restart (platforms re-fetch the JWKS by its ``kid``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


@dataclass(frozen=True)
class ToolKey:
    private: rsa.RSAPrivateKey
    kid: str

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}


def _thumbprint(public: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint, a stable kid for the key."""
    jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def load_or_create_key(path: Path) -> ToolKey:
    """Blocking (file I/O and key generation): call it via ``asyncio.to_thread``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        try:
            with contextlib.suppress(FileExistsError):  # another worker was first: use its key
                os.link(tmp, path)  # atomic, and never a half-written file
        finally:
            tmp.unlink(missing_ok=True)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return ToolKey(loaded, _thumbprint(loaded.public_key()))
