"""Realistic demo data for 于都县, written through the same services as real data.

Deterministic for a given "today": one seeded random generator, dates relative to the
clock. Tasks are issued with ``TaskService.create_task``, so every demo task obeys the
assignment rules (two qualified inspectors, valid certificates, no conflicts of interest).
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import Clock, local_today
from backend.db.engine import create_engine
from backend.db.models import (
    ChecklistPoint,
    ConflictOfInterest,
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
    Task,
    TaskStatus,
    Team,
    User,
)
from backend.domain.audit.service import Actor, Audit
from backend.domain.deadlines.calendars import load_calendar
from backend.domain.deadlines.services import DeadlineService
from backend.domain.deadlines.workdays import count_working_days
from backend.domain.media.storage import LocalBlobStore
from backend.domain.objects.uscc import ALPHABET, check_character
from backend.domain.tasks.services import NewTask, TaskService
from backend.errors import DomainError
from backend.platform.identities import subject_of
from backend.settings import Settings

from . import catalog
from .record import seed_demo_record

SEED = 20261129
BUSINESSES = 320
TASKS = 84
DEMO_ACCOUNTS_HINT = "Sign in at /api/v1/auth/login with a user name above and the demo password."

# (team key, department key, team name, the qualification areas of each member)
TEAMS = [
    (
        "amr-food",
        "amr",
        "食品安全检查组",
        [["food", "drugs"], ["food"], ["food", "pricing"], ["food", "metrology"]],
    ),
    (
        "amr-equip",
        "amr",
        "特种设备与产品质量检查组",
        [
            ["special_equipment", "product_quality"],
            ["special_equipment"],
            ["product_quality", "metrology"],
            ["special_equipment", "metrology"],
        ],
    ),
    (
        "amr-credit",
        "amr",
        "信用监管与综合执法检查组",
        [
            ["registration", "advertising"],
            ["registration", "pricing", "online_trade"],
            ["registration", "ip", "advertising"],
            ["drugs", "registration"],
        ],
    ),
    ("health", "health", "卫生监督检查组", [["health"], ["health"], ["health"]]),
    ("joint", "environment", "跨部门联合检查组", []),
]
PARTNER_INSPECTORS = {  # departments whose inspectors join the joint team
    "environment": ["environment"],
    "work_safety": ["work_safety"],
    "culture": ["culture"],
    "agriculture": ["agriculture"],
    "commerce": ["online_trade", "product_quality"],
}


@dataclass
class _Person:
    user: User
    profile: InspectorProfile
    team_key: str


def _name(rng: random.Random, used: set[str]) -> str:
    while True:
        name = rng.choices(catalog.SURNAMES, weights=catalog.SURNAME_WEIGHTS)[0] + rng.choice(
            catalog.GIVEN_NAMES
        )
        if name not in used:
            used.add(name)
            return name


def _phone(rng: random.Random) -> str:
    return "1" + rng.choice("35789") + "".join(rng.choice("0123456789") for _ in range(9))


def _uscc(rng: random.Random, prefix: str, used: set[str]) -> str:
    letters = ALPHABET
    while True:
        org = "MA" + "".join(rng.choice(letters) for _ in range(7))
        body = prefix + catalog.DIVISION_CODE + org
        code = body + check_character(body)
        if code not in used:
            used.add(code)
            return code


def _offset(coordinate: str, rng: random.Random) -> str:
    return f"{float(coordinate) + rng.uniform(-0.012, 0.012):.6f}"


async def _reference_data(
    session: AsyncSession,
) -> tuple[dict[str, Department], dict[str, InspectionItemVersion]]:
    departments: dict[str, Department] = {}
    for dept in catalog.DEPARTMENTS:
        department = Department(
            id=uuid.uuid4(), code=dept.code, name=dept.name, level=DepartmentLevel.COUNTY
        )
        session.add(department)
        departments[dept.key] = department
    await session.flush()
    versions: dict[str, InspectionItemVersion] = {}
    for item in catalog.ITEMS:
        row = InspectionItem(
            id=uuid.uuid4(),
            code=item.code,
            department_id=departments[item.department].id,
            listed=item.listed,
            current_version=1,
        )
        session.add(row)
        await session.flush()
        version = InspectionItemVersion(
            id=uuid.uuid4(),
            item_id=row.id,
            version=1,
            name=item.name,
            basis=item.basis,
            category=ItemCategory.KEY if item.category == "重点" else ItemCategory.GENERAL,
            method=item.method,
            qualification_area=item.area,
        )
        session.add(version)
        await session.flush()
        for ordinal, point in enumerate(item.checklist):
            session.add(
                ChecklistPoint(
                    id=uuid.uuid4(),
                    item_version_id=version.id,
                    ordinal=ordinal,
                    content=point.content,
                    method=point.method,
                    default_problem_text=point.default_problem_text,
                )
            )
        versions[item.code] = version
    await session.flush()
    return departments, versions


async def _people(
    session: AsyncSession, rng: random.Random, today: date, departments: dict[str, Department]
) -> tuple[list[str], list[_Person]]:
    used_names: set[str] = set()
    accounts: list[str] = []
    people: list[_Person] = []
    serial = 0

    def profile(user: User, areas: list[str], until: date) -> InspectorProfile:
        nonlocal serial
        serial += 1
        return InspectorProfile(
            user_id=user.id,
            certificate_no=f"赣{catalog.DIVISION_CODE}{serial:05d}",
            certificate_valid_from=today - timedelta(days=rng.randint(400, 1500)),
            certificate_valid_until=until,
            qualification_areas=areas,
            specialties=[catalog.QUALIFICATION_AREAS[a] for a in areas],
        )

    def validity(index: int) -> date:
        # a few certificates run out soon, so the rules visibly keep them off later tasks
        return today + timedelta(days=(9 + index) if index % 7 == 3 else rng.randint(200, 1300))

    teams: dict[str, Team] = {}
    n_insp = 0
    for key, dept_key, name, _areas in TEAMS:
        team = Team(
            id=uuid.uuid4(),
            name=f"{departments[dept_key].name}{name}" if key != "joint" else name,
            department_id=departments[dept_key].id,
        )
        session.add(team)
        teams[key] = team
    await session.flush()
    for index, (key, dept_key, _team_name, member_areas) in enumerate(TEAMS):
        lead = User(
            id=uuid.uuid4(),
            username=f"lead{index + 1:02d}",
            display_name=_name(rng, used_names),
            role=Role.TEAM_LEAD,
            department_id=departments[dept_key].id,
            team_id=teams[key].id,
            phone=_phone(rng),
        )
        session.add(lead)
        await session.flush()
        lead_areas = member_areas[0] if member_areas else ["environment"]
        session.add(profile(lead, lead_areas, today + timedelta(days=900)))
        teams[key].lead_id = lead.id
        accounts.append(f"{lead.username:<10} 组长  {lead.display_name}  {teams[key].name}")
        for areas in member_areas:
            n_insp += 1
            user = User(
                id=uuid.uuid4(),
                username=f"insp{n_insp:02d}",
                display_name=_name(rng, used_names),
                role=Role.INSPECTOR,
                department_id=departments[dept_key].id,
                team_id=teams[key].id,
                phone=_phone(rng),
            )
            session.add(user)
            await session.flush()
            prof = profile(user, areas, validity(n_insp))
            session.add(prof)
            people.append(_Person(user, prof, key))
            accounts.append(f"{user.username:<10} 检查员 {user.display_name}  {teams[key].name}")
    for dept_key, areas in PARTNER_INSPECTORS.items():
        for _ in range(2):
            n_insp += 1
            user = User(
                id=uuid.uuid4(),
                username=f"insp{n_insp:02d}",
                display_name=_name(rng, used_names),
                role=Role.INSPECTOR,
                department_id=departments[dept_key].id,
                team_id=teams["joint"].id,
                phone=_phone(rng),
            )
            session.add(user)
            await session.flush()
            prof = profile(user, areas, validity(n_insp))
            session.add(prof)
            people.append(_Person(user, prof, "joint"))
            accounts.append(
                f"{user.username:<10} 检查员 {user.display_name}  {teams['joint'].name}（{departments[dept_key].name}）"
            )
    operator = User(
        id=uuid.uuid4(),
        username="ops01",
        display_name=_name(rng, used_names),
        role=Role.OPERATOR,
        department_id=departments["amr"].id,
    )
    session.add(operator)
    accounts.append(f"{operator.username:<10} 运维  {operator.display_name}")
    # every demo person is also an identity of the reference platform: single sign-on finds
    # them by the platform's subject, never by their user name
    for user in (await session.scalars(select(User))).all():
        user.platform_subject = subject_of(user.username)
    await session.flush()
    return accounts, people


async def _businesses(
    session: AsyncSession, rng: random.Random
) -> list[tuple[InspectionObject, catalog.BusinessKind]]:
    used_codes: set[str] = set()
    used_names: set[str] = set()
    people: set[str] = set()
    found: list[tuple[InspectionObject, catalog.BusinessKind]] = []
    kinds = catalog.BUSINESS_KINDS
    while len(found) < BUSINESSES:
        kind = rng.choices(kinds, weights=[k.weight for k in kinds])[0]
        town = rng.choice(catalog.TOWNS)
        name = kind.name_pattern.format(trade=rng.choice(catalog.TRADE_NAMES), town=town.name)
        if name in used_names:
            continue
        used_names.add(name)
        place = rng.choice(town.places)
        address = f"{catalog.COUNTY_NAME}{town.name}{place}{rng.randint(1, 388)}号"
        legal = _name(rng, people)
        obj = InspectionObject(
            id=uuid.uuid4(),
            uscc=_uscc(rng, kind.uscc_prefix, used_codes),
            name=name,
            kind=ObjectKind(kind.kind),
            address=address,
            legal_representative=legal,
            legal_representative_phone=_phone(rng),
            contact_person=legal if kind.kind == "individual" else _name(rng, people),
            contact_phone=_phone(rng),
            industry=kind.industry,
            risk_level=rng.choices("ABCD", weights=[4, 3, 2, 1])[0],
            credit_class=rng.choices("ABCD", weights=[5, 3, 1, 1])[0],
            latitude=_offset(town.latitude, rng),
            longitude=_offset(town.longitude, rng),
        )
        session.add(obj)
        found.append((obj, kind))
    await session.flush()
    return found


def _qualified(person: _Person, item: catalog.Item, departments: dict[str, Department]) -> bool:
    return (
        person.user.department_id == departments[item.department].id
        and item.area in person.profile.qualification_areas
    )


async def seed(session: AsyncSession, clock: Clock) -> list[str]:
    """Write the demo data; return the account lines to print."""
    rng = random.Random(SEED)
    today = local_today(clock)
    departments, _versions = await _reference_data(session)
    accounts, people = await _people(session, rng, today, departments)
    businesses = await _businesses(session, rng)
    teams = {t.lead_id: t for t in (await session.scalars(select(Team))).all()}
    team_of_person = {p.user.id: p.user.team_id for p in people}

    plans = [
        Plan(
            id=uuid.uuid4(),
            code=f"YD-{today.year}-SJ-03",
            name=f"于都县{today.year}年第三批“双随机、一公开”抽查计划",
            department_id=departments["amr"].id,
            starts_on=today - timedelta(days=75),
            ends_on=today + timedelta(days=50),
        ),
        Plan(
            id=uuid.uuid4(),
            code=f"YD-{today.year}-LH-02",
            name=f"于都县{today.year}年部门联合“双随机、一公开”抽查计划",
            department_id=departments["amr"].id,
            starts_on=today - timedelta(days=60),
            ends_on=today + timedelta(days=50),
        ),
    ]
    session.add_all(plans)
    for person in people[:2]:
        # two declared conflicts of interest (回避), so the rules have something to keep out
        obj = businesses[rng.randrange(len(businesses))][0]
        session.add(
            ConflictOfInterest(
                id=uuid.uuid4(),
                inspector_id=person.user.id,
                object_id=obj.id,
                reason="配偶系该经营者的股东",
                source="inspector",
                declared_by_id=person.user.id,
            )
        )
    await session.flush()

    service = TaskService(session, clock, Audit(session, clock, Actor.system()))
    conflicts = {
        (c.inspector_id, c.object_id)
        for c in (await session.scalars(select(ConflictOfInterest))).all()
    }
    made = 0
    attempts = 0
    per_plan: dict[uuid.UUID, int] = defaultdict(int)
    created: list[tuple[Task, NewTask]] = []
    while made < TASKS and attempts < TASKS * 20:
        attempts += 1
        obj, kind = businesses[rng.randrange(len(businesses))]
        codes = list(kind.item_codes)
        departments_of = {catalog.ITEMS_BY_CODE[c].department for c in codes}
        joint = len(departments_of) > 1 and made % 4 == 0
        if joint:
            other = [c for c in codes if catalog.ITEMS_BY_CODE[c].department != "amr"]
            chosen_codes = [
                rng.choice([c for c in codes if catalog.ITEMS_BY_CODE[c].department == "amr"]),
                rng.choice(other),
            ]
        else:
            amr_codes = [c for c in codes if catalog.ITEMS_BY_CODE[c].department == "amr"]
            chosen_codes = rng.sample(amr_codes, k=min(len(amr_codes), rng.choice([1, 1, 2, 3])))
        bucket = made % 10
        issued_on = today - timedelta(days=rng.randint(5, 40))
        if bucket < 2:
            due_on = today - timedelta(days=rng.randint(1, 8))
        elif bucket < 4:
            due_on = today + timedelta(days=rng.randint(0, 3))
        else:
            due_on = today + timedelta(days=rng.randint(4, 40))
        issued_on = min(issued_on, due_on - timedelta(days=3))
        items = [catalog.ITEMS_BY_CODE[c] for c in chosen_codes]

        def eligible(
            person: _Person, item: catalog.Item, due: date = due_on, object_id: uuid.UUID = obj.id
        ) -> bool:
            return (
                _qualified(person, item, departments)
                and person.profile.certificate_valid_on(due)
                and (person.user.id, object_id) not in conflicts
            )

        inspectors: list[_Person] = []
        for item in items:
            if not any(_qualified(p, item, departments) for p in inspectors):
                pool = [p for p in people if eligible(p, item) and p not in inspectors]
                if inspectors:
                    same_team = [p for p in pool if p.team_key == inspectors[0].team_key]
                    pool = same_team or pool
                if not pool:
                    break
                inspectors.append(rng.choice(pool))
        if len(inspectors) < len({i.department for i in items}) or not inspectors:
            continue
        if len(inspectors) < 2:
            pool = [
                p
                for p in people
                if p not in inspectors
                and eligible(p, items[0])
                and p.team_key == inspectors[0].team_key
            ]
            if not pool:
                continue
            inspectors.append(rng.choice(pool))
        plan = plans[1] if joint else plans[0]
        per_plan[plan.id] += 1
        team_id = team_of_person[inspectors[0].user.id]
        assert team_id is not None
        new = NewTask(
            code=f"{plan.code}-{per_plan[plan.id]:04d}",
            name=f"{'部门联合' if joint else ''}双随机抽查：{obj.name}",
            plan_id=plan.id,
            batch_ref=f"{plan.code}-B{1 + made // 30}",
            object_id=obj.id,
            item_codes=chosen_codes,
            lead_department_id=departments["amr"].id,
            issued_on=issued_on,
            due_on=due_on,
            inspector_ids=[p.user.id for p in inspectors],
            primary_inspector_id=inspectors[0].user.id,
        )
        try:
            async with session.begin_nested():
                task = await service.create_task(
                    new, team_id=team_id, by_user_id=teams_lead(teams, team_id)
                )
        except DomainError:
            per_plan[plan.id] -= 1
            continue
        task.status = _status(rng, due_on, today)
        created.append((task, new))
        made += 1
    await session.flush()
    specials = await _special_tasks(
        session, service, created, plans[0], clock, departments["amr"].id
    )
    _set_facts(rng, [t for t, _ in created], clock.now())
    audit = Audit(session, clock, Actor.system())
    await DeadlineService(session, audit).recompute(
        [t.id for t, _ in created] + [t.id for t in specials]
    )
    return accounts


async def _special_tasks(
    session: AsyncSession,
    service: TaskService,
    created: list[tuple[Task, NewTask]],
    template_plan: Plan,
    clock: Clock,
    department_id: uuid.UUID,
) -> list[Task]:
    """Two tasks that show the calendar at work: one whose deadline crosses the National Day break,
    one whose deadline runs into a year with no official schedule loaded."""
    today = local_today(clock)
    calendar = await load_calendar(session)
    year = today.year if today >= date(today.year, 10, 9) else today.year - 1
    unloaded = next(y for y in range(today.year, today.year + 10) if y not in calendar.loaded_years)
    stretch = 20
    if unloaded > today.year:
        stretch = min(
            366, count_working_days(calendar, today, date(unloaded - 1, 12, 31)).count + 5
        )
    autumn = Plan(
        id=uuid.uuid4(),
        code=f"YD-{year}-SJ-02",
        name=f"于都县{year}年第二批“双随机、一公开”抽查计划",
        department_id=department_id,
        starts_on=date(year, 7, 1),
        ends_on=date(year, 10, 31),
    )
    across = Plan(
        id=uuid.uuid4(),
        code=f"YD-{today.year}-ZX-01",
        name=f"于都县{today.year}—{unloaded}年度跨年专项整治检查计划",
        department_id=department_id,
        starts_on=today - timedelta(days=30),
        ends_on=date(unloaded, 3, 31),
        deadline_config={"publication_working_days": stretch},
    )
    session.add_all([autumn, across])
    await session.flush()
    made: list[Task] = []
    used_objects = {t.object_id for t, _ in created}
    for plan, issued, due, checked, status in [
        (
            autumn,
            date(year, 9, 10),
            date(year, 9, 30),
            datetime(year, 9, 29, 8, 0, tzinfo=UTC),
            TaskStatus.APPROVED,
        ),
        (
            across,
            today - timedelta(days=3),
            today + timedelta(days=10),
            clock.now() - timedelta(hours=3),
            TaskStatus.SUBMITTED,
        ),
    ]:
        for _task, template in created:
            if len(template.item_codes) != 1:
                continue
            obj_id = next(
                (
                    o
                    for o in (await session.scalars(select(InspectionObject.id))).all()
                    if o not in used_objects
                ),
                None,
            )
            if obj_id is None:
                break
            new = msgspec.structs.replace(
                template,
                code=f"{plan.code}-0001",
                name=f"双随机抽查：{plan.name}",
                plan_id=plan.id,
                batch_ref=f"{plan.code}-B1",
                object_id=obj_id,
                issued_on=issued,
                due_on=due,
            )
            try:
                async with session.begin_nested():
                    task = await service.create_task(new, team_id=_task.team_id, by_user_id=None)
            except DomainError:
                continue
            used_objects.add(obj_id)
            task.status = status
            task.checked_in_at = checked - timedelta(hours=1)
            task.checked_at = checked
            task.results_entered_at = checked + timedelta(hours=2)
            task.results_received_at = checked + timedelta(hours=2, minutes=5)
            made.append(task)
            break
    return made


def _set_facts(rng: random.Random, tasks: list[Task], now: datetime) -> None:
    """Check-in, check-out and entry times that fit each task's status, so every light shows up."""
    entry_ages = [6, 30, 55]  # hours since check-out: green, yellow, red in the 48-hour window
    in_progress = 0
    for task in tasks:
        if task.status is TaskStatus.IN_PROGRESS:
            task.checked_in_at = now - timedelta(hours=rng.randint(2, 5))
            if in_progress % 2 == 0:
                age = entry_ages[(in_progress // 2) % len(entry_ages)]
                task.checked_in_at = now - timedelta(hours=age + 1)
                task.checked_at = now - timedelta(hours=age)
            in_progress += 1
        elif task.status in (TaskStatus.SUBMITTED, TaskStatus.APPROVED, TaskStatus.RETURNED):
            days_ago = rng.randint(1, 20)
            task.checked_in_at = now - timedelta(days=days_ago, hours=3)
            task.checked_at = now - timedelta(days=days_ago, hours=1)
            task.results_entered_at = task.checked_at + timedelta(hours=rng.randint(1, 40))
            task.results_received_at = task.results_entered_at + timedelta(
                minutes=rng.randint(1, 300)
            )


def teams_lead(teams: dict[uuid.UUID | None, Team], team_id: uuid.UUID) -> uuid.UUID | None:
    return next((lead for lead, team in teams.items() if team.id == team_id), None)


def _status(rng: random.Random, due_on: date, today: date) -> TaskStatus:
    if due_on < today:
        return rng.choice(
            [TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS, TaskStatus.RETURNED, TaskStatus.SUBMITTED]
        )
    return rng.choices(
        [TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS, TaskStatus.SUBMITTED, TaskStatus.APPROVED],
        weights=[60, 20, 12, 8],
    )[0]


async def account_lines(session: AsyncSession) -> list[str]:
    rows = await session.execute(
        select(User.username, User.role, User.display_name, Team.name)
        .outerjoin(Team, Team.id == User.team_id)
        .order_by(User.role.desc(), User.username)
    )
    label = {Role.TEAM_LEAD: "组长", Role.INSPECTOR: "检查员", Role.OPERATOR: "运维"}
    return [f"{u:<10} {label[r]}  {n}  {t or ''}".rstrip() for u, r, n, t in rows]


async def seed_if_empty(settings: Settings, clock: Clock) -> list[str]:
    """Seed the demo data unless the database already has departments; return the accounts."""
    engine = create_engine(settings.effective_database_url)
    try:
        maker = async_sessionmaker(engine, expire_on_commit=False)
        async with maker() as session, session.begin():
            empty = (await session.scalar(select(func.count()).select_from(Department))) == 0
            if empty:
                await seed(session, clock)
        if empty:  # then one task worked through, as a phone does it, in a transaction of its own
            async with maker() as session, session.begin():
                await seed_demo_record(session, clock, LocalBlobStore(settings.files_dir))
        async with maker() as session:
            return await account_lines(session)
    finally:
        await engine.dispose()


__all__ = ["DEMO_ACCOUNTS_HINT", "seed", "seed_if_empty"]
