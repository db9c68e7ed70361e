"""Who may call the platform's API: a token this platform signed for its API, unexpired on its
clock — else 401 with a Bearer challenge; then the right kind of caller for the route — the
backend's own client token for the task feed, a person's token held by the backend (token
exchange) for the results intake — else 403. Nothing is stored for a refused request."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from .api_world import CLIENT_ID, ISSUER, JPEG, SECRET, World, bearer, record_body, running

pytestmark = pytest.mark.anyio
TIME_LIMIT_SECONDS = 20
CALLBACK = "http://127.0.0.1:8000/api/v1/auth/sso/callback"


async def code_flow_tokens(world: World) -> dict[str, Any]:
    """A person's own tokens from the code flow (an ID token and an access token without act)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    r = await world.http.post(
        "/oidc/authorize",
        data={
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": CALLBACK,
            "scope": "openid",
            "state": "s",
            "code_challenge": challenge.decode(),
            "code_challenge_method": "S256",
            "username": "insp01",
            "password": "zsjg-demo",
        },
        follow_redirects=False,
    )
    code = parse_qs(urlparse(r.headers["location"]).query)["code"][0]
    r = await world.http.post(
        "/oidc/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=(CLIENT_ID, SECRET),
    )
    assert r.status_code == 200, r.text
    tokens: dict[str, Any] = r.json()
    return tokens


async def test_the_client_credentials_grant_gives_the_backend_a_feed_token(world: World) -> None:
    r = await world.http.post(
        "/oidc/token", data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, SECRET)
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 600, "tasks:read")
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == claims["client_id"] == CLIENT_ID
    assert (claims["aud"], claims["iss"], claims["scope"]) == (
        f"{ISSUER}/api",
        ISSUER,
        "tasks:read",
    )
    assert claims["exp"] - claims["iat"] == 600
    assert "act" not in claims
    discovery = (await world.http.get("/.well-known/openid-configuration")).json()
    assert "client_credentials" in discovery["grant_types_supported"]


async def test_the_client_credentials_grant_needs_the_secret_and_a_known_scope(
    world: World,
) -> None:
    r = await world.http.post(
        "/oidc/token", data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, "wrong")
    )
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")
    r = await world.http.post(
        "/oidc/token",
        data={"grant_type": "client_credentials", "scope": "tasks:read results:write"},
        auth=(CLIENT_ID, SECRET),
    )
    assert (r.status_code, r.json()["error"]) == (400, "invalid_scope")


def assert_invalid_token(r: Any) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    body = r.json()
    assert body["error"] == "invalid_token" and body["error_description"]


async def forged_with_our_kid(world: World, claims: dict[str, Any]) -> str:
    """A token under the platform's own kid, signed by another RSA key."""
    kid = (await world.http.get("/oidc/jwks")).json()["keys"][0]["kid"]
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, other, algorithm="RS256", headers={"kid": kid})


async def test_every_api_route_refuses_a_request_without_a_valid_token(world: World) -> None:
    person = await world.person_token()
    claims = jwt.decode(person, options={"verify_signature": False})
    async with running() as elsewhere:  # the same issuer URL, but its own keys
        foreign = await elsewhere.person_token()
    kid = jwt.get_unverified_header(person)["kid"]
    id_token = (await code_flow_tokens(world))["id_token"]
    refused = {
        "no header": {},
        "not bearer": {"Authorization": f"Basic {person}"},
        "empty bearer": {"Authorization": "Bearer "},
        "garbage": bearer("not.a.jwt"),
        "another platform's key": bearer(foreign),
        "our kid, another key": bearer(await forged_with_our_kid(world, claims)),
        "alg none": bearer(jwt.encode(claims, None, algorithm="none", headers={"kid": kid})),
        "HS256": bearer(jwt.encode(claims, "s" * 32, algorithm="HS256", headers={"kid": kid})),
        "ID token (wrong aud)": bearer(id_token),
    }
    requests = [
        ("POST", "/api/results/photos"),
        ("POST", "/api/results/records"),
        ("POST", "/api/results/referrals"),
        ("GET", "/api/results/records/record:task-1:v1/publication"),
        ("GET", "/api/tasks/feed"),
    ]
    for name, headers in refused.items():
        for method, path in requests:
            r = await world.http.request(
                method, path, headers={**headers, "Idempotency-Key": "k"}, content=b"{}"
            )
            assert r.status_code == 401, (name, path, r.text)
            assert_invalid_token(r)
    assert (await world.received())["photos"] == []


async def test_a_token_expires_on_the_platform_clock_with_30_seconds_leeway(world: World) -> None:
    token = await world.client_token()
    world.clock.advance(timedelta(minutes=10, seconds=29))
    r = await world.http.get("/api/tasks/feed", headers=bearer(token))
    assert r.status_code == 200, r.text
    world.clock.advance(timedelta(seconds=2))
    assert_invalid_token(await world.http.get("/api/tasks/feed", headers=bearer(token)))


async def test_a_token_signed_before_a_key_rotation_holds_until_the_next(world: World) -> None:
    token = await world.client_token()
    assert (await world.http.post("/control/keys/rotate")).status_code == 200
    assert (await world.http.get("/api/tasks/feed", headers=bearer(token))).status_code == 200
    assert (await world.http.post("/control/keys/rotate")).status_code == 200
    assert_invalid_token(await world.http.get("/api/tasks/feed", headers=bearer(token)))


async def test_a_persons_token_does_not_read_the_task_feed(world: World) -> None:
    for token in [await world.person_token(), (await code_flow_tokens(world))["access_token"]]:
        r = await world.http.get("/api/tasks/feed", headers=bearer(token))
        assert r.status_code == 403, r.text
        assert r.headers["www-authenticate"] == 'Bearer error="insufficient_scope"'
        assert r.json()["error"] == "insufficient_scope"


async def test_results_are_sent_only_on_a_persons_behalf(world: World) -> None:
    client = await world.client_token()
    own = (await code_flow_tokens(world))["access_token"]  # the person's own, no act
    for token in [client, own]:
        r = await world.send_photo(token=token)
        assert (r.status_code, r.json()["error"]) == (403, "insufficient_scope")
        r = await world.send_json("/api/results/records", record_body(photos=()), "r", token=token)
        assert (r.status_code, r.json()["error"]) == (403, "insufficient_scope")
        referral = {"task_ref": "t", "record_key": "r", "referral": {}}
        r = await world.send_json("/api/results/referrals", referral, "f", token=token)
        assert (r.status_code, r.json()["error"]) == (403, "insufficient_scope")
    assert await world.received() == {
        "photos": [],
        "records": [],
        "referrals": [],
        "attempts": {f"photo:{hashlib.sha256(JPEG).hexdigest()}": 2, "r": 2, "f": 2},
        "assignments": [],
    }
    r = await world.send_photo()  # the same photo on the inspector's behalf
    assert r.status_code == 201, r.text


async def test_publication_status_is_open_to_the_client_and_to_people(world: World) -> None:
    for token in [await world.client_token(), await world.person_token()]:
        r = await world.http.get(
            "/api/results/records/record:x:v1/publication", headers=bearer(token)
        )
        assert (r.status_code, r.json()["error"]) == (404, "not_found")
