"""Whether the server may listen on an address without authentication.

Kept apart from the rest of ``app.auth`` so the supervising process of ``tutor-serve`` can check it
without importing the token, ticket and Redis machinery (~18 MiB it would never use).
"""

from __future__ import annotations

import ipaddress

from app.core.config import Settings

LOOPBACK_NAMES = {"localhost", "ip6-localhost", "ip6-loopback"}


class InsecureBindError(RuntimeError):
    """AUTH_MODE=none on an address other machines can reach."""


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings, host: str) -> None:
    """Refuse to serve without authentication where other machines can connect."""
    if settings.auth_mode == "none" and not settings.auth_allow_insecure and not is_loopback(host):
        raise InsecureBindError(
            f"Refusing to serve AUTH_MODE=none on {host!r}: anyone who can reach it could act as "
            "any student. Set AUTH_MODE=token or AUTH_MODE=lti (see docs/security.md), bind "
            "HOST=127.0.0.1, or set AUTH_ALLOW_INSECURE=true to accept the risk."
        )
