"""Users belong to the host app; we only look them up, and create the demo user."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from varro.db.engine import Sessions
from varro.db.models import User


@dataclass(frozen=True)
class UserCrud:
    sessions: Sessions

    async def get(self, user_id: int) -> User | None:
        async with self.sessions() as s:
            return await s.get(User, user_id)

    async def ensure(self, name: str) -> User:
        """The user called `name`, created if missing (used for the demo user)."""
        async with self.sessions.write() as s:
            user = (await s.exec(select(User).where(User.name == name))).first()
            if user is None:
                user = User(name=name)
                s.add(user)
                try:
                    await s.commit()
                except IntegrityError:  # another process, starting at the same moment, made it first
                    await s.rollback()
                    return (await s.exec(select(User).where(User.name == name))).one()
                await s.refresh(user)
            return user
