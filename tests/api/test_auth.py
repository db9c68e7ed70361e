"""Sign-in, device binding, rotating refresh tokens with reuse detection, sign-out."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import jwt
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.app import create_app
from backend.clock import FixedClock
from backend.db.models import Device
from backend.settings import Settings
from tests.world import PASSWORD, build_world

pytestmark = pytest.mark.anyio


async def _login(
    client: AsyncTestClient[Litestar], username: str, device_id: uuid.UUID, password: str = PASSWORD
):  # type: ignore[no-untyped-def]
    return await client.post(
        "/api/v1/auth/login",
        json={
            "username": username,
            "password": password,
            "device_id": str(device_id),
            "device_name": "测试手机",
        },
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def world(session_maker: async_sessionmaker[AsyncSession], clock: FixedClock):  # type: ignore[no-untyped-def]
    return await build_world(session_maker, clock)


async def test_login_issues_an_eddsa_token_bound_to_the_device(
    client: AsyncTestClient[Litestar], world
) -> None:  # type: ignore[no-untyped-def]
    device = uuid.uuid4()
    r = await _login(client, "amr_a", device)
    assert r.status_code == 200, r.text
    body = r.json()
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "EdDSA"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (
        claims["sid"] == str(device)
        and claims["sub"] == str(world["amr_a"])
        and claims["role"] == "inspector"
    )
    assert claims["exp"] - claims["iat"] == 15 * 60
    me = await client.get("/api/v1/me", headers=_bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["username"] == "amr_a" and me.json()["device_id"] == str(device)


async def test_wrong_password_and_unknown_user_look_the_same(
    client: AsyncTestClient[Litestar], world
) -> None:  # type: ignore[no-untyped-def]
    a = await _login(client, "amr_a", uuid.uuid4(), password="wrong")
    b = await _login(client, "nobody", uuid.uuid4())
    assert a.status_code == b.status_code == 401
    assert a.json()["code"] == b.json()["code"] == "invalid-credentials"


async def test_demo_login_only_in_demo_mode(settings: Settings, clock: FixedClock, world) -> None:  # type: ignore[no-untyped-def]
    app = create_app(
        Settings(
            **{**{f: getattr(settings, f) for f in settings.__struct_fields__}, "demo_mode": False}
        ),
        clock=clock,
    )
    async with AsyncTestClient(app=app) as client:
        r = await _login(client, "amr_a", uuid.uuid4())
    assert r.status_code == 404
    assert r.json()["code"] == "not-found"


async def test_a_device_belongs_to_one_user(client: AsyncTestClient[Litestar], world) -> None:  # type: ignore[no-untyped-def]
    device = uuid.uuid4()
    assert (await _login(client, "amr_a", device)).status_code == 200
    r = await _login(client, "amr_b", device)
    assert r.status_code == 409
    assert r.json()["code"] == "device-owned-by-another-user"


async def test_refresh_rotates_and_reuse_ends_the_device_session(
    client: AsyncTestClient[Litestar],
    world,
    session_maker: async_sessionmaker[AsyncSession],  # type: ignore[no-untyped-def]
) -> None:
    device = uuid.uuid4()
    first = (await _login(client, "amr_a", device)).json()
    second = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert second.status_code == 200, second.text
    second_body = second.json()
    assert second_body["refresh_token"] != first["refresh_token"]
    assert (
        await client.get("/api/v1/me", headers=_bearer(second_body["access_token"]))
    ).status_code == 200

    # The first refresh token was rotated; presenting it again is theft or a replay.
    reuse = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "refresh-token-reused"
    # The session survives the 401: every token of that device stops working.
    assert (
        await client.get("/api/v1/me", headers=_bearer(second_body["access_token"]))
    ).status_code == 401
    again = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second_body["refresh_token"]}
    )
    assert again.status_code == 401
    async with session_maker() as s:
        assert (await s.scalar(select(Device.session_generation).where(Device.id == device))) == 1
    # Signing in again on the same device starts a new session.
    fresh = await _login(client, "amr_a", device)
    assert (
        await client.get("/api/v1/me", headers=_bearer(fresh.json()["access_token"]))
    ).status_code == 200


async def test_reuse_on_one_device_leaves_other_devices_alone(
    client: AsyncTestClient[Litestar], world
) -> None:  # type: ignore[no-untyped-def]
    phone = (await _login(client, "amr_a", uuid.uuid4())).json()
    tablet = (await _login(client, "amr_a", uuid.uuid4())).json()
    await client.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    await client.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert (
        await client.get("/api/v1/me", headers=_bearer(tablet["access_token"]))
    ).status_code == 200


async def test_logout_ends_only_this_device(client: AsyncTestClient[Litestar], world) -> None:  # type: ignore[no-untyped-def]
    mine = (await _login(client, "amr_a", uuid.uuid4())).json()
    theirs = (await _login(client, "amr_b", uuid.uuid4())).json()
    assert (
        await client.post("/api/v1/auth/logout", headers=_bearer(mine["access_token"]))
    ).status_code == 204
    assert (
        await client.get("/api/v1/me", headers=_bearer(mine["access_token"]))
    ).status_code == 401
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": mine["refresh_token"]})
    ).status_code == 401
    assert (
        await client.get("/api/v1/me", headers=_bearer(theirs["access_token"]))
    ).status_code == 200


async def test_access_token_expires(
    client: AsyncTestClient[Litestar], world, clock: FixedClock
) -> None:  # type: ignore[no-untyped-def]
    body = (await _login(client, "amr_a", uuid.uuid4())).json()
    # used once (and so remembered as verified), it still expires on time
    assert (
        await client.get("/api/v1/me", headers=_bearer(body["access_token"]))
    ).status_code == 200
    clock.advance(timedelta(minutes=15, seconds=29))
    assert (
        await client.get("/api/v1/me", headers=_bearer(body["access_token"]))
    ).status_code == 200
    clock.advance(timedelta(seconds=2))
    r = await client.get("/api/v1/me", headers=_bearer(body["access_token"]))
    assert r.status_code == 401
    assert r.json()["code"] == "invalid-token"
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_refresh_token_expires(
    client: AsyncTestClient[Litestar], world, clock: FixedClock
) -> None:  # type: ignore[no-untyped-def]
    body = (await _login(client, "amr_a", uuid.uuid4())).json()
    clock.advance(timedelta(days=30, seconds=1))
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    ).status_code == 401


async def test_revoked_device_is_refused(
    client: AsyncTestClient[Litestar],
    world,
    session_maker: async_sessionmaker[AsyncSession],
    clock: FixedClock,  # type: ignore[no-untyped-def]
) -> None:
    device = uuid.uuid4()
    body = (await _login(client, "amr_a", device)).json()
    async with session_maker() as s, s.begin():
        row = await s.get(Device, device)
        assert row is not None
        row.revoked_at = clock.now()
    r = await client.get("/api/v1/me", headers=_bearer(body["access_token"]))
    assert r.status_code == 401 and r.json()["code"] == "device-revoked"
    assert (await _login(client, "amr_a", device)).json()["code"] == "device-revoked"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_forged_tokens_are_refused(client: AsyncTestClient[Litestar], world) -> None:  # type: ignore[no-untyped-def]
    real = (await _login(client, "amr_a", uuid.uuid4())).json()["access_token"]
    header, payload, _sig = real.split(".")
    claims = jwt.decode(real, options={"verify_signature": False})
    claims_lead = {**claims, "role": "team_lead", "sub": str(world["lead1"])}
    forged = [
        f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",  # alg none
        jwt.encode(
            claims,
            "a-guessed-shared-secret-of-32-bytes!",
            algorithm="HS256",
            headers={"kid": jwt.get_unverified_header(real)["kid"]},
        ),
        f"{header}.{_b64(claims_lead)}.{_sig}",  # claims changed, signature kept
        "not-a-token",
    ]
    for token in forged:
        r = await client.get("/api/v1/me", headers=_bearer(token))
        assert r.status_code == 401, token
    assert (await client.get("/api/v1/me")).status_code == 401
    assert (
        await client.get("/api/v1/me", headers={"Authorization": f"Basic {real}"})
    ).status_code == 401


async def test_validation_errors_are_problem_details(
    client: AsyncTestClient[Litestar], world
) -> None:  # type: ignore[no-untyped-def]
    r = await client.post(
        "/api/v1/auth/login", json={"username": "", "password": "x", "device_id": "not-a-uuid"}
    )
    assert r.status_code == 400
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert body["code"] == "validation-failed" and body["status"] == 400 and body["request_id"]
    assert r.headers["x-request-id"] == body["request_id"]
