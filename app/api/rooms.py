"""A student's own chatrooms and their turns: the chat page's sidebar.

Only ever the caller's own rooms: the user id comes from the Principal, never from the path, so
there is no URL that names another student's room.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel

from app.api.deps import PrincipalDep
from app.api.readers import RoomsDep
from app.api.unavailable import unavailable_as_503
from app.db.rooms import RoomSummary, RoomTurn

router = APIRouter(tags=["students"])


class RoomsResponse(BaseModel):
    user_id: str
    rooms: list[RoomSummary]


class RoomTurnsResponse(BaseModel):
    chatroom_id: str
    turns: list[RoomTurn]


@router.get("/users/me/rooms")
async def my_rooms(
    principal: PrincipalDep,
    rooms: RoomsDep,
    course_id: Annotated[str | None, Query(max_length=128)] = None,
) -> RoomsResponse:
    """The caller's chatrooms, most recently used first (optionally of one course)."""
    async with unavailable_as_503("The chat history"):
        found = await rooms.rooms(principal.user_id, course_id or None)
    return RoomsResponse(user_id=principal.user_id, rooms=found)


@router.get(
    "/rooms/{chatroom_id}/turns",
    responses={status.HTTP_404_NOT_FOUND: {"description": "The caller has no such room"}},
)
async def room_turns(
    chatroom_id: Annotated[str, Path(min_length=1, max_length=128)],
    principal: PrincipalDep,
    rooms: RoomsDep,
) -> RoomTurnsResponse:
    """The caller's turns in one of their rooms, oldest first."""
    async with unavailable_as_503("The chat history"):
        turns = await rooms.turns(principal.user_id, chatroom_id)
    if turns is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"You have no chatroom {chatroom_id!r}."
        )
    return RoomTurnsResponse(chatroom_id=chatroom_id, turns=turns)
