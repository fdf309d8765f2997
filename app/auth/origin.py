"""The WebSocket Origin allow-list, against cross-site WebSocket hijacking.

Browsers attach the page's Origin to every WebSocket handshake, and cookies or ambient network
access come along; a page on another site could otherwise open ``/ws/stream`` in a student's
browser. The server's own origin may always connect (its chat page, also inside an LMS iframe):
``PUBLIC_URL`` when set, else the host the handshake was sent to (compared host and port, whatever
the scheme, so TLS ended at a proxy still matches). ``ALLOWED_ORIGINS`` adds the other origins
whose pages may open the socket (a portal or LMS page that embeds the chat directly).
Clients that send no Origin at all (scripts, mobile apps, servers) are not browsers and pass;
a browser always sends one, ``null`` included, which only an explicit entry allows.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def _host_port(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.hostname:
        return None
    default = {"https": 443, "wss": 443, "http": 80, "ws": 80}.get(parts.scheme)
    try:
        port = parts.port or default
    except ValueError:
        return None
    return f"{parts.hostname.lower()}:{port}"


class OriginPolicy:
    def __init__(self, allowed: list[str], public_url: str | None) -> None:
        self._allowed = {o.rstrip("/").lower() for o in allowed}
        self._public = _host_port(public_url) if public_url else None

    def allows(self, origin: str | None, host_header: str | None) -> bool:
        if origin is None:
            return True
        origin = origin.rstrip("/").lower()
        if origin in self._allowed:
            return True
        if origin == "null":
            return False
        own = _host_port(origin)
        if own is None:
            return False
        if self._public is not None:
            return own == self._public
        if not host_header:
            return False
        # either scheme: with TLS ended at a proxy the server sees http for an https page
        return own in {_host_port(f"http://{host_header}"), _host_port(f"https://{host_header}")}
