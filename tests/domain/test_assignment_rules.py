"""Each assignment rule refuses with its own error and writes nothing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import FixedClock
from backend.db.models import (
    AssignmentHistoryEntry,
    ConflictOfInterest,
    Task,
    TaskAssignment,
    TaskItem,
)
from backend.domain.audit.service import Actor, Audit
from backend.domain.tasks.services import TaskService
from backend.errors import (
    CertificateNotValid,
    ConflictOfInterestDeclared,
    DomainError,
    InspectorNotFound,
    InspectorNotQualified,
    InvalidInput,
    ItemNotCovered,
    ItemNotListed,
    NoPrimaryInspector,
    TooFewInspectors,
)
from tests.world import World, build_world, new_task

pytestmark = pytest.mark.anyio


async def _counts(session_maker: async_sessionmaker[AsyncSession]) -> tuple[int, ...]:
    async with session_maker() as s:
        return tuple(
            [
                await s.scalar(select(func.count()).select_from(model)) or 0
                for model in (Task, TaskItem, TaskAssignment, AssignmentHistoryEntry)
            ]
        )


async def _refused(
    session_maker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    w: World,
    error: type[DomainError],
    **kw: object,
) -> DomainError:
    before = await _counts(session_maker)
    with pytest.raises(error) as info:
        async with session_maker() as session, session.begin():
            await TaskService(session, clock, Audit(session, clock, Actor.system())).create_task(
                new_task(w, "T-NEW", **kw), team_id=w["team1"], by_user_id=w["lead1"]
            )  # type: ignore[arg-type]
    assert await _counts(session_maker) == before
    return info.value


@pytest.fixture
async def world(session_maker: async_sessionmaker[AsyncSession], clock: FixedClock) -> World:
    return await build_world(session_maker, clock)


async def test_valid_joint_task_is_issued_with_history(
    session_maker: async_sessionmaker[AsyncSession], clock: FixedClock, world: World
) -> None:
    async with session_maker() as session, session.begin():
        task = await TaskService(session, clock, Audit(session, clock, Actor.system())).create_task(
            new_task(
                world, "T-JOINT", inspectors=["amr_a", "health_h"], items=["FOOD-1", "HEALTH-1"]
            ),
            team_id=world["team1"],
            by_user_id=world["lead1"],
        )
    async with session_maker() as s:
        items = (await s.scalars(select(TaskItem).where(TaskItem.task_id == task.id))).all()
        assert {i.department_id for i in items} == {world["amr"], world["health"]}
        history = (
            await s.scalars(
                select(AssignmentHistoryEntry).where(AssignmentHistoryEntry.task_id == task.id)
            )
        ).all()
        assert [(h.action, h.primary_id, h.by_user_id) for h in history] == [
            ("assigned", world["amr_a"], world["lead1"])
        ]
        primaries = await s.scalars(
            select(TaskAssignment.user_id).where(
                TaskAssignment.task_id == task.id, TaskAssignment.is_primary
            )
        )
        assert list(primaries) == [world["amr_a"]]


async def test_fewer_than_two_inspectors(
    session_maker: async_sessionmaker[AsyncSession], clock: FixedClock, world: World
) -> None:
    err = await _refused(
        session_maker, clock, world, TooFewInspectors, inspectors=["amr_a"], items=["FOOD-1"]
    )
    assert err.extra["count"] == 1


async def test_same_inspector_twice_is_not_two(
    session_maker: async_sessionmaker[AsyncSession], clock: FixedClock, world: World
) -> None:
    await _refused(
        session_maker,
        clock,
        world,
        TooFewInspectors,
        inspectors=["amr_a", "amr_a"],
        items=["FOOD-1"],
    )


async def test_primary_must_be_assigned(
    session_maker: async_sessionmaker[AsyncSession], clock: FixedClock, world: World
) -> None:
    await _refused(
        session_maker,
        clock,
        world,
        NoPrimaryInspector,
        inspectors=["amr_a", "amr_b"],
        items=["FOOD-1"],
        primary="amr_c",
    )


async def test_certificate_not_valid_on_due_date(
    session_maker: async_sessionmaker[AsyncSession], clock: FixedClock, world: World
) -> None:
    # expired_e's certificate runs until 2026-12-10: fine for a task due on the 10th, refused on the 11th.
    async with session_maker() as session, session.begin():
        await TaskService(session, clock, Audit(session, clock, Actor.system())).create_task(
            new_task(
                world,
                "T-OK",
                inspectors=["amr_a", "expired_e"],
                items=["FOOD-1"],
                due_on=date(2026, 12, 10),
            ),
            team_id=world["team1"],
            by_user_id=world["lead1"],
        )
    err = await _refused(
        session_maker,
        clock,
        world,
        CertificateNotValid,
        inspectors=["amr_a", "expired_e"],
        items=["FOOD-1"],
        due_on=date(2026, 12, 11),
    )
    assert err.extra["inspector_ids"] == [str(world["expired_e"])]


async def test_inspector_without_the_items_qualification(
    session_maker: async_sessionmaker[AsyncSession], clock: FixedClock, world: World
) -> None:
    err = await _refused(
        session_maker,
        clock,
        world,
        InspectorNotQualified,
        inspectors=["amr_a", "unqualified_u"],
        items=["FOOD-1"],
    )
    assert err.extra["inspector_ids"] == [str(world["unqualified_u"])]


async def test_item_without_a_qualified_inspector_of_its_department(
    session_maker: async_sessionmaker[AsyncSession], clock: FixedClock, world: World
) -> None:
    err = await _refused(
        session_maker,
        clock,
        world,
        ItemNotCovered,
        inspectors=["amr_a", "amr_b"],
        items=["FOOD-1", "HEALTH-1"],
    )
    assert err.extra["item_codes"] == ["HEALTH-1"]


async def test_declared_conflict_of_interest(
    session_maker: async_sessionmaker[AsyncSession], clock: FixedClock, world: World
) -> None:
    async with session_maker() as session, session.begin():
        session.add(
            ConflictOfInterest(
                inspector_id=world["amr_b"],
                object_id=world["shop"],
                reason="近亲属经营",
                source="inspector",
                declared_by_id=world["amr_b"],
            )
        )
    err = await _refused(
        session_maker,
        clock,
        world,
        ConflictOfInterestDeclared,
        inspectors=["amr_a", "amr_b"],
        items=["FOOD-1"],
    )
    assert err.extra["inspector_ids"] == [str(world["amr_b"])]


async def test_item_not_on_the_list(
    session_maker: async_sessionmaker[AsyncSession], clock: FixedClock, world: World
) -> None:
    err = await _refused(
        session_maker,
        clock,
        world,
        ItemNotListed,
        inspectors=["amr_a", "amr_b"],
        items=["FOOD-1", "GONE-1"],
    )
    assert err.extra["item_codes"] == ["GONE-1"]
    err = await _refused(
        session_maker,
        clock,
        world,
        ItemNotListed,
        inspectors=["amr_a", "amr_b"],
        items=["NO-SUCH-ITEM"],
    )
    assert err.extra["item_codes"] == ["NO-SUCH-ITEM"]


async def test_auxiliary_staff_without_certificate(
    session_maker: async_sessionmaker[AsyncSession], clock: FixedClock, world: World
) -> None:
    await _refused(
        session_maker, clock, world, InspectorNotFound, inspectors=["amr_a", "op"], items=["FOOD-1"]
    )


async def test_due_after_plan_end(
    session_maker: async_sessionmaker[AsyncSession], clock: FixedClock, world: World
) -> None:
    await _refused(
        session_maker,
        clock,
        world,
        InvalidInput,
        inspectors=["amr_a", "amr_b"],
        items=["FOOD-1"],
        due_on=date(2027, 1, 5),
    )
