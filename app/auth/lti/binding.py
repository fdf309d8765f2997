"""The OIDC login bound to the browser that started it: a cookie holding a hash of ``state``.

Without it, someone could start an LTI login as themselves, stop before the launch and have a
victim's browser post the resulting ``id_token`` and ``state`` (login CSRF): the victim would
then chat, unknowingly, in the attacker's session. ``/lti/login`` sets a short-lived cookie
whose value is the SHA-256 of the state it issues (the state itself never sits in a cookie);
``/lti/launch`` accepts a state only from a browser that presents the matching cookie.

LTI launches are cross-site POSTs from the LMS, so over https the cookie is ``SameSite=None`` and
``Secure`` (browsers require both together) and ``Partitioned``, so browsers that block
third-party cookies still keep it for the iframe's own top-level site (CHIPS). Over plain http
(development) browsers refuse ``SameSite=None``; the cookie is then ``SameSite=Lax``, which
serves an LMS on the same site (e.g. both on localhost) and nothing cross-site. Its name
carries a prefix of the hash, so several tool placements launching at once on one LMS page do
not overwrite each other's cookie. Path ``/lti/``: it is never sent anywhere else. A browser
that keeps no cookie at all for the iframe gets a page that says so (the LMS should then open
the tool in a new window).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

COOKIE_PREFIX = "lti_state_"
COOKIE_PATH = "/lti/"


def state_digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def cookie_name(state: str) -> str:
    return COOKIE_PREFIX + state_digest(state)[:16]


@dataclass(frozen=True)
class StateCookie:
    name: str
    value: str
    max_age: int
    secure: bool

    @classmethod
    def for_state(cls, state: str, max_age: int, secure: bool) -> StateCookie:
        return cls(cookie_name(state), state_digest(state), max_age, secure)

    def header(self, path: str = COOKIE_PATH) -> str:
        """The ``Set-Cookie`` value (``max_age`` 0 deletes it). Name and value are hex."""
        parts = [f"{self.name}={self.value}", f"Max-Age={self.max_age}", f"Path={path}"]
        if self.secure:  # the launch is a cross-site POST from the LMS; CHIPS for its iframe
            parts += ["HttpOnly", "SameSite=None", "Secure", "Partitioned"]
        else:  # browsers drop SameSite=None without Secure; Lax still serves a same-site LMS
            parts += ["HttpOnly", "SameSite=Lax"]
        return "; ".join(parts)


def bound_to_browser(cookies: Mapping[str, str], state: str) -> bool:
    """The browser posting ``state`` is the one ``/lti/login`` gave it to."""
    presented = cookies.get(cookie_name(state))
    return presented is not None and secrets.compare_digest(presented, state_digest(state))
