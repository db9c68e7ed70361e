"""A small, fixed world for tests: two departments, two teams, items, an object, inspectors, tasks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import Clock
from backend.db.models import (
    ChecklistPoint,
    Department,
    DepartmentLevel,
    InspectionItem,
    InspectionItemVersion,
    InspectionObject,
    InspectorProfile,
    ItemCategory,
    ObjectKind,
    Plan,
    Role,
    Team,
    User,
)
from backend.domain.audit.service import Actor, Audit
from backend.domain.objects.uscc import check_character
from backend.domain.tasks.services import NewTask, TaskService

PASSWORD = "zsjg-demo"  # the Settings default demo password


def uscc(body17: str) -> str:
    return body17 + check_character(body17)


@dataclass
class World:
    ids: dict[str, uuid.UUID] = field(default_factory=dict)

    def __getitem__(self, key: str) -> uuid.UUID:
        return self.ids[key]


async def _user(
    session: AsyncSession,
    w: World,
    key: str,
    *,
    role: Role,
    department: str,
    team: str | None,
    areas: list[str] | None = None,
    valid_until: date = date(2028, 12, 31),
) -> None:
    user = User(
        id=uuid.uuid4(),
        username=key,
        display_name=f"测试{key}",
        role=role,
        department_id=w[department],
        team_id=w[team] if team else None,
    )
    session.add(user)
    await session.flush()
    w.ids[key] = user.id
    if areas is not None:
        session.add(
            InspectorProfile(
                user_id=user.id,
                certificate_no=f"36073100{len(w.ids):04d}",
                certificate_valid_from=date(2024, 1, 1),
                certificate_valid_until=valid_until,
                qualification_areas=areas,
                specialties=[],
            )
        )


async def _item(
    session: AsyncSession, w: World, code: str, department: str, area: str, *, listed: bool = True
) -> None:
    item = InspectionItem(
        id=uuid.uuid4(), code=code, department_id=w[department], listed=listed, current_version=1
    )
    session.add(item)
    await session.flush()
    version = InspectionItemVersion(
        id=uuid.uuid4(),
        item_id=item.id,
        version=1,
        name=f"事项{code}",
        basis="《中华人民共和国食品安全法》",
        category=ItemCategory.GENERAL,
        method="实地检查",
        qualification_area=area,
    )
    session.add(version)
    await session.flush()
    for n in range(2):
        session.add(
            ChecklistPoint(
                id=uuid.uuid4(),
                item_version_id=version.id,
                ordinal=n,
                content=f"{code}检查内容{n}",
                method="查看现场",
                default_problem_text=f"{code}问题{n}",
            )
        )
    w.ids[code] = item.id


async def build_world(session_maker: async_sessionmaker[AsyncSession], clock: Clock) -> World:
    w = World()
    async with session_maker() as session, session.begin():
        for key, name, code in [
            ("amr", "测试县市场监督管理局", uscc("11360731MB1234567")),
            ("health", "测试县卫生健康委员会", uscc("11360731MB7654321")),
        ]:
            dept = Department(id=uuid.uuid4(), code=code, name=name, level=DepartmentLevel.COUNTY)
            session.add(dept)
            w.ids[key] = dept.id
        await session.flush()
        for key, dept in [("team1", "amr"), ("team2", "amr")]:
            team = Team(id=uuid.uuid4(), name=f"检查组{key}", department_id=w[dept])
            session.add(team)
            w.ids[key] = team.id
        await session.flush()
        await _user(
            session, w, "lead1", role=Role.TEAM_LEAD, department="amr", team="team1", areas=["food"]
        )
        await _user(
            session, w, "lead2", role=Role.TEAM_LEAD, department="amr", team="team2", areas=["food"]
        )
        await _user(session, w, "op", role=Role.OPERATOR, department="amr", team=None)
        await _user(
            session,
            w,
            "amr_a",
            role=Role.INSPECTOR,
            department="amr",
            team="team1",
            areas=["food", "special_equipment"],
        )
        await _user(
            session, w, "amr_b", role=Role.INSPECTOR, department="amr", team="team1", areas=["food"]
        )
        await _user(
            session, w, "amr_c", role=Role.INSPECTOR, department="amr", team="team1", areas=["food"]
        )
        await _user(
            session,
            w,
            "health_h",
            role=Role.INSPECTOR,
            department="health",
            team="team1",
            areas=["health"],
        )
        await _user(
            session,
            w,
            "expired_e",
            role=Role.INSPECTOR,
            department="amr",
            team="team1",
            areas=["food"],
            valid_until=date(2026, 12, 10),
        )
        await _user(
            session,
            w,
            "unqualified_u",
            role=Role.INSPECTOR,
            department="amr",
            team="team1",
            areas=["advertising"],
        )
        await _user(
            session,
            w,
            "other_x",
            role=Role.INSPECTOR,
            department="amr",
            team="team2",
            areas=["food"],
        )
        await _user(
            session,
            w,
            "other_y",
            role=Role.INSPECTOR,
            department="amr",
            team="team2",
            areas=["food"],
        )
        for team, lead in [("team1", "lead1"), ("team2", "lead2")]:
            t = await session.get(Team, w[team])
            assert t is not None
            t.lead_id = w[lead]
        await _item(session, w, "FOOD-1", "amr", "food")
        await _item(session, w, "SE-1", "amr", "special_equipment")
        await _item(session, w, "HEALTH-1", "health", "health")
        await _item(session, w, "GONE-1", "amr", "food", listed=False)
        for key, body in [("shop", "92360731MA3ABCD1X"), ("factory", "91360731MA35XY012")]:
            obj = InspectionObject(
                id=uuid.uuid4(),
                uscc=uscc(body),
                name=f"于都县{key}",
                kind=ObjectKind.ENTERPRISE,
                address="于都县贡江镇长征大道1号",
                legal_representative="张三",
            )
            session.add(obj)
            w.ids[key] = obj.id
        plan = Plan(
            id=uuid.uuid4(),
            code="PLAN-2026-2",
            name="2026年第二批双随机抽查",
            department_id=w["amr"],
            starts_on=date(2026, 9, 1),
            ends_on=date(2026, 12, 31),
        )
        session.add(plan)
        await session.flush()
        w.ids["plan"] = plan.id
        service = TaskService(session, clock, Audit(session, clock, Actor.system()))
        t1 = await service.create_task(
            new_task(w, "T-1", inspectors=["amr_a", "amr_b"], items=["FOOD-1"]),
            team_id=w["team1"],
            by_user_id=w["lead1"],
        )
        t2 = await service.create_task(
            new_task(w, "T-2", inspectors=["other_x", "other_y"], items=["FOOD-1"], obj="factory"),
            team_id=w["team2"],
            by_user_id=w["lead2"],
        )
        w.ids["t1"] = t1.id
        w.ids["t2"] = t2.id
    return w


def new_task(
    w: World,
    code: str,
    *,
    inspectors: list[str],
    items: list[str],
    obj: str = "shop",
    primary: str | None = None,
    due_on: date = date(2026, 12, 20),
) -> NewTask:
    return NewTask(
        code=code,
        name=f"任务{code}",
        plan_id=w["plan"],
        object_id=w[obj],
        item_codes=items,
        issued_on=date(2026, 11, 30),
        due_on=due_on,
        inspector_ids=[w[i] for i in inspectors],
        primary_inspector_id=w[primary or inspectors[0]],
    )


async def login(
    client: AsyncTestClient[Litestar], username: str, device_id: uuid.UUID | None = None
) -> dict[str, str]:
    """Sign in with the demo source; return the Authorization header."""
    response = await client.post(
        "/api/v1/auth/login",
        json={
            "username": username,
            "password": PASSWORD,
            "device_id": str(device_id or uuid.uuid4()),
            "device_name": f"{username}的手机",
        },
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
