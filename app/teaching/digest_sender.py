"""The weekly digest: build a course's insights for the past week and mail them to the course's
digest recipients, once per week per course, whatever the number of workers.

Each worker checks every few minutes whether the latest scheduled slot (weekday and hour, UTC)
has a digest out for each course; ``SET NX`` on a per-course, per-slot key decides which worker
sends. A send that fails releases the key, so the next check tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from app.teaching import digest
from app.teaching.course_settings import CourseSettingsStore
from app.teaching.insight_models import CourseInsights
from app.teaching.insights import InsightsService
from app.teaching.mailer import SmtpConfig, build_message, send

log = logging.getLogger(__name__)
WEEK = timedelta(days=7)
SENT_TTL_S = 8 * 24 * 3600


def last_slot(now: datetime, weekday: int, hour: int) -> datetime:
    """The most recent ``weekday`` (0 = Monday) at ``hour``:00 UTC at or before ``now``."""
    now = now.astimezone(UTC)
    slot = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    slot -= timedelta(days=(now.weekday() - weekday) % 7)
    return slot - WEEK if slot > now else slot


class DigestSender:
    def __init__(
        self,
        insights: InsightsService,
        settings: CourseSettingsStore,
        smtp: SmtpConfig | None,
        client: aioredis.Redis,
        key_prefix: str,
        courses: Callable[[], Awaitable[list[str]]],
        timeout: float,
    ) -> None:
        self._insights = insights
        self._settings = settings
        self._smtp = smtp
        self._client = client
        self._prefix = key_prefix
        self._courses = courses
        self._timeout = timeout

    @property
    def configured(self) -> bool:
        return self._smtp is not None

    async def build(self, course_id: str, start: datetime, end: datetime) -> CourseInsights:
        show = (await self._settings.get(course_id)).show_student_ids
        return await self._insights.build(course_id, start, end, show)

    async def mail(self, insights: CourseInsights, recipients: list[str]) -> None:
        if self._smtp is None:
            raise RuntimeError("SMTP is not configured (SMTP_HOST)")
        message = build_message(
            self._smtp.sender,
            recipients,
            digest.subject(insights),
            digest.markdown(insights),
            digest.html_page(insights),
        )
        await send(self._smtp, message)

    async def run_once(self, now: datetime, weekday: int, hour: int) -> list[str]:
        """Send every digest due at ``now``; return the courses mailed."""
        if self._smtp is None:
            return []
        slot = last_slot(now, weekday, hour)
        due = await self._settings.courses_with_recipients(await self._courses())
        sent = []
        for course_id, recipients in sorted(due.items()):
            key = f"{self._prefix}:digest:sent:{course_id}:{slot:%Y%m%dT%H}"
            async with asyncio.timeout(self._timeout):
                claimed = await self._client.set(key, "1", nx=True, ex=SENT_TTL_S)
            if not claimed:
                continue
            try:
                await self.mail(await self.build(course_id, slot - WEEK, slot), recipients)
            except Exception:
                log.exception(
                    "weekly digest for %s not sent; retrying at the next check", course_id
                )
                with contextlib.suppress(Exception):
                    await self._client.delete(key)
                continue
            log.info("weekly digest for %s sent to %d recipients", course_id, len(recipients))
            sent.append(course_id)
        return sent

    async def run(self, interval_s: float, weekday: int, hour: int) -> None:
        """Check until cancelled: the lifespan runs this as a background task."""
        while True:
            try:
                await self.run_once(datetime.now(UTC), weekday, hour)
            except Exception:
                log.exception("weekly digest check failed")
            await asyncio.sleep(interval_s)
