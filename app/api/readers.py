"""Request-scoped readers for the pages' HTTP endpoints, built from what the lifespan opened.

Each is a thin object over a shared client (Redis or the database engine), so building one per
request costs nothing and the lifespan's ``Services`` needs no field for each of them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.api.deps import ServicesDep
from app.core.knowledge import KnowledgeKeys
from app.db.reports import TurnReports
from app.db.rooms import RoomReader
from app.services.catalog import CourseCatalog


def get_catalog(services: ServicesDep) -> CourseCatalog:
    s = services.settings
    return CourseCatalog(services.redis, KnowledgeKeys.from_settings(s), s.redis_timeout_seconds)


def get_rooms(services: ServicesDep) -> RoomReader:
    return RoomReader(services.repository.engine, services.settings.database_timeout_seconds)


def get_reports(services: ServicesDep) -> TurnReports:
    # reports scan a range of turns: allow more than a single-row lookup
    return TurnReports(services.repository.engine, services.settings.database_timeout_seconds * 6)


CatalogDep = Annotated[CourseCatalog, Depends(get_catalog)]
RoomsDep = Annotated[RoomReader, Depends(get_rooms)]
ReportsDep = Annotated[TurnReports, Depends(get_reports)]
