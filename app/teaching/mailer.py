"""Send one e-mail with a plain-text (Markdown) and an HTML part over SMTP.

The standard library's ``smtplib`` is blocking, so it runs in a thread, bounded by the SMTP
timeout. Nothing here is built at import; without ``SMTP_HOST`` the digest is not mailed.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal

Security = Literal["none", "starttls", "ssl"]


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    security: Security = "starttls"
    timeout: float = 20.0


def build_message(
    sender: str, recipients: list[str], subject: str, text: str, html: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    return message


def _send(config: SmtpConfig, message: EmailMessage) -> None:
    context = ssl.create_default_context()
    if config.security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            config.host, config.port, timeout=config.timeout, context=context
        )
    else:
        client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    with client:
        if config.security == "starttls":
            client.starttls(context=context)
        if config.username and config.password:
            client.login(config.username, config.password)
        client.send_message(message)


async def send(config: SmtpConfig, message: EmailMessage) -> None:
    async with asyncio.timeout(config.timeout * 2):
        await asyncio.to_thread(_send, config, message)
