"""Who a request is, by mode, and whether it may still ask: the decisions every entry point shares.

HTTP (``PrincipalDep``), the WebSocket handshake and every ``chat_request`` on an open socket ask
the same object, so a rule (expiry, revocation, course scope) is written once.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.auth.bind import is_loopback
from app.auth.origin import OriginPolicy
from app.auth.principal import Principal
from app.auth.revocation import Revocations
from app.auth.tickets import Ticket, TicketKind, TicketStore
from app.auth.tokens import SessionSigner, TokenVerifier
from app.core.config import Settings
from app.protocol.errors import ErrorCode, ProtocolError

if TYPE_CHECKING:
    from app.auth.lti.tool import LtiTool


def forbidden(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.FORBIDDEN, message)


def unauthorized(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.UNAUTHORIZED, message)


@dataclass
class Authenticator:
    settings: Settings
    tickets: TicketStore
    revocations: Revocations
    origins: OriginPolicy
    verifier: TokenVerifier | None = None
    sessions: SessionSigner | None = None
    lti: LtiTool | None = None

    @property
    def mode(self) -> str:
        return self.settings.auth_mode

    @property
    def enabled(self) -> bool:
        return self.settings.auth_mode != "none"

    def open_access_allowed(self, server_host: str | None) -> bool:
        """AUTH_MODE=none answers only what arrived over loopback (unless insecure is allowed).

        Catches a server started with ``--host 0.0.0.0`` behind our back: the local address a
        request arrived on tells, whatever HOST says.
        """
        if self.settings.auth_allow_insecure or server_host is None:
            return True
        try:
            ipaddress.ip_address(server_host.strip("[]"))
        except ValueError:
            return True  # not a socket address (an in-process test client, a unix socket)
        return is_loopback(server_host)

    async def from_bearer(self, token: str) -> Principal:
        if self.verifier is None:
            raise unauthorized("This server does not accept bearer tokens (AUTH_MODE=none).")
        principal = await self.verifier.verify(token)
        await self.recheck(principal, None)
        return principal

    async def from_ticket(self, kind: TicketKind, ticket: str) -> Ticket:
        redeemed = await self.tickets.redeem(kind, ticket)
        if redeemed is None:
            raise unauthorized("The ticket is unknown, expired or already used; get a new one.")
        await self.recheck(redeemed.principal, None)
        return redeemed

    async def recheck(self, principal: Principal, courses: str | frozenset[str] | None) -> None:
        """Still valid? Expiry, then revocations (account, then each course). Raises on refusal.

        ``courses`` is the connection's scope: one course, a set of them, or ``None`` (every
        course, or none named: the account is checked alone).
        """
        if not principal.authenticated:
            return
        if principal.expired(time.time(), self.settings.auth_leeway_seconds):
            raise unauthorized("Your sign-in has expired; sign in again.")
        wanted = frozenset({courses}) if isinstance(courses, str) else (courses or frozenset())
        verdict = await self.revocations.check(principal, wanted)
        if verdict.account:
            raise unauthorized("Your sign-in was revoked; sign in again.")
        if verdict.courses:
            withdrawn = ", ".join(sorted(verdict.courses))[:200]
            message = f"Your access to course {withdrawn} was withdrawn."
            if len(wanted) > 1:
                message += " Connect again naming one of your other courses with course_id."
            raise forbidden(message)

    @staticmethod
    def course_scope(principal: Principal, requested: str | None) -> frozenset[str] | None:
        """The courses a connection serves, or ``None`` for every course (``"*"`` only).

        A named course must be one of the principal's. An omitted course means the principal's
        courses — all of them, searched together — and never every course unless the principal
        holds ``"*"``.
        """
        if requested is not None:
            if not principal.can_read(requested):
                raise forbidden(f"You are not enrolled in course {requested!r}.")
            return frozenset({requested})
        if principal.all_courses:
            return None
        if not principal.courses:
            raise forbidden("Your sign-in grants no course.")
        return frozenset(principal.courses)
