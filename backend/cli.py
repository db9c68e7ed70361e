"""The ``zsjg`` command: Litestar's CLI (``zsjg run``, ``zsjg database …``) plus our own commands."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import rich_click as click
from litestar.cli.main import litestar_group

if TYPE_CHECKING:
    from backend.settings import Settings

APP_PATH = "backend.app:create_app"


@click.command(name="demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on.",
)
@click.option(
    "--data-dir",
    default=Path("data"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the SQLite file, the keys and the stored files go.",
)
@click.option(
    "--platform-port",
    default=8100,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port of the reference platform started alongside (0: any free port).",
)
@click.option("--no-serve", is_flag=True, help="Migrate and seed, then stop (no server).")
def demo_command(host: str, port: int, data_dir: Path, platform_port: int, no_serve: bool) -> None:
    """Run the whole system with demo data on the embedded SQLite database, and the reference platform."""
    import uvicorn

    from backend.app import create_app
    from backend.clock import SystemClock
    from backend.db.migrate import upgrade
    from backend.demo.feed import drawn_tasks
    from backend.demo.seed import DEMO_ACCOUNTS_HINT, seed_if_empty
    from backend.settings import Settings

    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env(data_dir=data_dir, demo_mode=True, generate_signing_key=True)
    click.echo(f"Database: {settings.effective_database_url}")
    upgrade(settings.effective_database_url)
    accounts = asyncio.run(seed_if_empty(settings, SystemClock()))
    asyncio.run(_anchor_if_moved(settings))
    if no_serve:
        click.echo(f"Demo accounts (password for all: {settings.demo_password}):")
        for line in accounts:
            click.echo(f"  {line}")
        return
    drawn = asyncio.run(drawn_tasks(settings, SystemClock()))
    issuer, client_secret = _start_platform(
        host, platform_port, port, _backend_jwks(settings), drawn
    )
    settings = msgspec.structs.replace(settings, sso_issuer=issuer, sso_client_secret=client_secret)
    click.echo(
        f"\n掌上监管 demo — backend: http://{host}:{port}/  (API schema: http://{host}:{port}/schema)"
    )
    click.echo(f"Reference platform (OpenID Connect issuer): {issuer}")
    click.echo(f"Demo accounts (password for all: {settings.demo_password}):")
    for line in accounts:
        click.echo(f"  {line}")
    click.echo(DEMO_ACCOUNTS_HINT)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def _backend_jwks(settings: Settings) -> dict[str, object]:
    """The backend's public signing key as a JWKS (made now if the demo has none yet)."""
    from backend.domain.auth.tokens import TokenSigner

    signer = TokenSigner.from_file(
        settings.effective_signing_key_file,
        generate=settings.generate_signing_key,
        issuer=settings.token_issuer,
        audience=settings.token_audience,
    )
    return {"keys": [signer.public_jwk()]}


def _start_platform(
    host: str,
    port: int,
    backend_port: int,
    backend_jwks: dict[str, object],
    tasks: tuple[dict[str, Any], ...] = (),
) -> tuple[str, str]:
    """The reference platform in a thread of its own, on its own port, with the backend as its
    client; answers its issuer URL and the backend's client secret."""
    import secrets
    import socket
    import threading

    import uvicorn

    from backend.platform import PlatformSettings, create_platform_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    issuer = f"http://{host}:{sock.getsockname()[1]}"
    hosts = {host, "localhost"} if host == "127.0.0.1" else {host}
    settings = PlatformSettings(
        issuer=issuer,
        backend_client_secret=os.environ.get("ZSJG_PLATFORM_CLIENT_SECRET")
        or secrets.token_urlsafe(24),
        # the browser may open the demo by either name; the callback is on the one it used
        backend_redirect_uris=tuple(
            f"http://{name}:{backend_port}/api/v1/auth/sso/callback" for name in sorted(hosts)
        ),
        backend_jwks=backend_jwks,
        tasks=tasks,
        control_token=os.environ.get("ZSJG_PLATFORM_CONTROL_TOKEN") or secrets.token_urlsafe(18),
    )
    server = uvicorn.Server(
        uvicorn.Config(create_platform_app(settings), log_level="warning", lifespan="on")
    )
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    click.echo(
        f"Reference platform's control token (fault switches under /control): {settings.control_token}"
    )
    return issuer, settings.backend_client_secret


async def _anchor_if_moved(settings: Settings) -> None:
    from backend.clock import SystemClock
    from backend.db.engine import create_engine
    from backend.domain.audit.operations import anchor_now

    engine = create_engine(settings.effective_database_url)
    try:
        await anchor_now(
            engine, settings.effective_audit_anchor_file, SystemClock(), only_if_moved=True
        )
    finally:
        await engine.dispose()


@click.group(name="audit")
def audit_group() -> None:
    """The audit trail: anchor its head outside the database, verify the chain."""


def _settings(data_dir: Path | None) -> Settings:
    from backend.settings import Settings

    return Settings.from_env(data_dir=data_dir)


def _require_database(settings: Settings) -> None:
    """Refuse to work on an embedded database that does not exist (rather than create an empty one)."""
    if settings.database_url:
        return
    path = settings.data_dir / "zsjg.sqlite3"
    if not path.exists():
        raise click.ClickException(f"no database at {path}: is --data-dir right?")


_data_dir_option = click.option(
    "--data-dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="The data directory (default: ZSJG_DATA_DIR or ./data).",
)


@audit_group.command(name="anchor")
@_data_dir_option
@click.option(
    "--file",
    "file_",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Anchor file to append to (default: ZSJG_AUDIT_ANCHOR_FILE or {data dir}/audit-anchors.jsonl).",
)
def audit_anchor(data_dir: Path | None, file_: Path | None) -> None:
    """Append the chain head (sequence number and hash) to the anchor file the operator keeps."""
    from backend.clock import SystemClock
    from backend.db.engine import create_engine
    from backend.domain.audit.operations import anchor_now

    settings = _settings(data_dir)
    _require_database(settings)
    path = file_ or settings.effective_audit_anchor_file

    async def run() -> str:
        engine = create_engine(settings.effective_database_url)
        try:
            anchor = await anchor_now(engine, path, SystemClock())
            assert anchor is not None
            return anchor.line()
        finally:
            await engine.dispose()

    click.echo(f"{asyncio.run(run())} >> {path}")


@audit_group.command(name="verify")
@_data_dir_option
@click.option(
    "--anchors",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Anchor file to check against (default: ZSJG_AUDIT_ANCHOR_FILE or {data dir}/audit-anchors.jsonl).",
)
def audit_verify(data_dir: Path | None, anchors: Path | None) -> None:
    """Walk the chain and check it against the anchors; exit 0 only when it is intact."""
    from backend.db.engine import create_engine
    from backend.domain.audit.chain import AnchorFileError, read_anchors
    from backend.domain.audit.operations import verify_database

    settings = _settings(data_dir)
    _require_database(settings)
    path = anchors or settings.effective_audit_anchor_file
    try:
        known = read_anchors(path)
    except AnchorFileError as exc:
        raise click.ClickException(str(exc)) from exc
    if not known:
        click.echo(
            f"warning: no anchors in {path}; a truncated tail or a rewritten chain cannot be detected",
            err=True,
        )

    async def run() -> str:
        engine = create_engine(settings.effective_database_url)
        try:
            report = await verify_database(engine, known)
        finally:
            await engine.dispose()
        if not report.intact:
            raise click.ClickException(report.summary())
        return report.summary()

    click.echo(asyncio.run(run()))


@click.group(name="calendar")
def calendar_group() -> None:
    """The working-day calendar: load or correct a year's official holiday schedule."""


@calendar_group.command(name="load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_data_dir_option
def calendar_load(file: Path, data_dir: Path | None) -> None:
    """Load FILE (one year's schedule, see docs/calendar.md); a bad file is refused naming its line."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from backend.clock import SystemClock
    from backend.db.engine import create_engine, write_intent
    from backend.domain.audit.service import Actor, Audit
    from backend.domain.deadlines.services import DeadlineService
    from backend.errors import InvalidCalendarFile

    settings = _settings(data_dir)
    _require_database(settings)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file} is not UTF-8 text") from exc

    async def run() -> str:
        engine = create_engine(settings.effective_database_url)
        try:
            with write_intent():
                async with (
                    async_sessionmaker(engine, expire_on_commit=False)() as session,
                    session.begin(),
                ):
                    audit = Audit(session, SystemClock(), Actor(role="cli"))
                    loaded = await DeadlineService(session, audit).load_year(text)
        finally:
            await engine.dispose()
        change = "unchanged" if not loaded.changed else f"{loaded.tasks_moved} task deadlines moved"
        return (
            f"{loaded.year}: {loaded.holidays} holidays, {loaded.makeup_workdays} make-up working days "
            f"from {loaded.source} ({change})"
        )

    try:
        click.echo(asyncio.run(run()))
    except InvalidCalendarFile as exc:
        raise click.ClickException(f"{file}: {exc.detail}; nothing was loaded") from exc


@click.command(name="platform")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8100, show_default=True, type=click.IntRange(0, 65535), help="Port."
)
@click.option(
    "--client-secret",
    envvar="ZSJG_PLATFORM_CLIENT_SECRET",
    default=None,
    help="The backend's client secret (made up and printed when not given).",
)
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    default=("http://127.0.0.1:8000/api/v1/auth/sso/callback",),
    show_default=True,
    help="A redirect URI registered for the backend (repeatable).",
)
@click.option(
    "--backend-jwks",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The backend's public keys (JWKS JSON, `zsjg keys jwks`): they verify its token exchanges.",
)
@click.option(
    "--control-token",
    envvar="ZSJG_PLATFORM_CONTROL_TOKEN",
    default=None,
    help="Bearer token guarding /control (the fault switches); made up and printed when not given.",
)
@click.option(
    "--publish-delay",
    default=0,
    show_default=True,
    type=click.IntRange(0, 30 * 86400),
    help="Seconds after receipt until a record counts as published.",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="Log every request (off for benchmarks).",
)
def platform_command(
    access_log: bool,
    host: str,
    port: int,
    client_secret: str | None,
    redirect_uris: tuple[str, ...],
    backend_jwks: Path | None,
    control_token: str | None,
    publish_delay: int,
) -> None:
    """Run the reference platform (a stand-in for the main platform): its OpenID Connect issuer,
    task feed, results intake and fault controls (docs/platform-api.md)."""
    import secrets
    from datetime import timedelta

    import uvicorn

    from backend.platform import PlatformSettings, create_platform_app

    settings = PlatformSettings(
        issuer=f"http://{host}:{port}",
        backend_client_secret=client_secret or secrets.token_urlsafe(24),
        backend_redirect_uris=redirect_uris,
        backend_jwks=msgspec.json.decode(backend_jwks.read_bytes()) if backend_jwks else None,
        control_token=control_token or secrets.token_urlsafe(18),
        publish_delay=timedelta(seconds=publish_delay),
    )
    click.echo(f"Reference platform — issuer: {settings.issuer}")
    click.echo(f"  controls (faults, received): {settings.issuer}/control/…")
    click.echo(f"  control token: {settings.control_token}")
    click.echo(f"  discovery: {settings.issuer}/.well-known/openid-configuration")
    click.echo(f"  client: {settings.backend_client_id}  secret: {settings.backend_client_secret}")
    click.echo(
        "  identities: the demo accounts (insp01…insp25, lead01…lead05, ops01), password zsjg-demo"
    )
    uvicorn.run(
        create_platform_app(settings),
        host=host,
        port=port,
        log_level="info",
        access_log=access_log,
    )


@click.group(name="keys")
def keys_group() -> None:
    """The backend's signing key."""


@keys_group.command(name="jwks")
def keys_jwks_command() -> None:
    """Print the backend's public key as a JWKS, to register it at the platform (token exchange)."""
    from backend.settings import Settings

    click.echo(msgspec.json.encode(_backend_jwks(Settings.from_env())).decode())


@click.command(name="worker")
def worker_command() -> None:
    """Run only the forwarding worker (settings from ZSJG_*; run several on PostgreSQL)."""
    from backend.app import create_app
    from backend.settings import Settings

    settings = msgspec.structs.replace(Settings.from_env(), forwarding_worker=False)
    app = create_app(settings)
    ctx = app.state.ctx
    if ctx.forwarder is None:
        raise click.ClickException(
            "no platform is configured: set ZSJG_SSO_ISSUER (or ZSJG_PLATFORM_URL) and "
            "ZSJG_SSO_CLIENT_SECRET"
        )
    ctx.load_signing_key()
    forwarder = ctx.forwarder

    async def run() -> None:
        await forwarder.start()
        click.echo(f"Forwarding worker {forwarder.name} → {settings.effective_platform_url}")
        try:
            await asyncio.Event().wait()  # until interrupted
        finally:
            await forwarder.stop()
            await ctx.engine.dispose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


@click.group(name="bench")
def bench_group() -> None:
    """Benchmarks that print ratios to a baseline measured in the same run."""


@bench_group.command(name="sync")
@click.option(
    "--seconds",
    default=3.0,
    show_default=True,
    type=click.FloatRange(0.5, 60),
    help="Time per measurement.",
)
@click.option(
    "--concurrency",
    default=4,
    show_default=True,
    type=click.IntRange(1, 32),
    help="Concurrent clients.",
)
def bench_sync(seconds: float, concurrency: int) -> None:
    """Ping (baseline), delta pull, cold pull of 500 tasks, 50-mutation pushes, replayed push."""
    from backend.bench import run

    run(seconds=seconds, concurrency=concurrency)


@bench_group.command(name="upload")
@click.option(
    "--files", default=6, show_default=True, type=click.IntRange(1, 100), help="Photos to upload."
)
@click.option(
    "--chunk-mb",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 32),
    help="PATCH chunk size; 0 sends each file whole in its creating request.",
)
@click.option(
    "--pwa",
    "like_pwa",
    is_flag=True,
    help="Each photo as the PWA sends it: the original and a 1,600 px evidence image, 512 KB chunks.",
)
def bench_upload(files: int, chunk_mb: float, like_pwa: bool) -> None:
    """tus upload of phone photos (MB/s) against a raw, flushed disk write of the same bytes."""
    from backend.bench_upload import run

    if like_pwa and chunk_mb:
        raise click.UsageError("--pwa sends in the PWA's own chunks (512 KB): leave out --chunk-mb")
    run(files=files, chunk_mb=chunk_mb, like_pwa=like_pwa)


@bench_group.command(name="forward")
@click.option(
    "--messages",
    default=2000,
    show_default=True,
    type=click.IntRange(10, 100_000),
    help="Records in the backlog per round.",
)
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1, 20))
@click.option(
    "--lag-samples",
    default=30,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Lag samples.",
)
def bench_forward(messages: int, rounds: int, lag_samples: int) -> None:
    """The outbox's drain rate to the loopback platform (messages/s) against direct POSTs of the
    same records, and the delivery lag of one approved record."""
    from backend.bench_forward import run_bench

    click.echo(msgspec.json.format(msgspec.json.encode(run_bench(messages, rounds, lag_samples))))


@bench_group.command(name="pwa")
@click.option(
    "--rounds", default=7, show_default=True, type=click.IntRange(3, 50), help="Offline restarts."
)
def bench_pwa(rounds: int) -> None:
    """The PWA: repeat start offline under 4× CPU throttling, and storing a 500-task pull."""
    from backend.bench_pwa import run

    run(rounds=rounds)


def main() -> None:
    """Entry point of the ``zsjg`` console script."""
    os.environ.setdefault("LITESTAR_APP", APP_PATH)
    litestar_group.add_command(demo_command)
    litestar_group.add_command(audit_group)
    litestar_group.add_command(calendar_group)
    litestar_group.add_command(bench_group)
    litestar_group.add_command(platform_command)
    litestar_group.add_command(worker_command)
    litestar_group.add_command(keys_group)
    sys.exit(litestar_group(prog_name="zsjg"))
