"""``create_app(settings)``: the one place that assembles the backend."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import httpx
from advanced_alchemy.extensions.litestar import (
    AlembicAsyncConfig,
    AsyncSessionConfig,
    SQLAlchemyAsyncConfig,
    SQLAlchemyInitPlugin,
    SQLAlchemySerializationPlugin,
)
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.plugins import InitPluginProtocol
from litestar.types import ControllerRouterHandler
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import Clock, SystemClock
from backend.db.engine import create_engine, is_sqlite
from backend.db.migrate import MIGRATIONS_DIR
from backend.db.models import Base
from backend.domain.audit.controllers import (
    AuditController,
    TaskAuditController,
    TeamAuditController,
)
from backend.domain.audit.operations import PeriodicAnchor
from backend.domain.auth.controllers import AuthController
from backend.domain.auth.login_sources import DemoLoginSource
from backend.domain.auth.oidc_client import OidcClient, RelyingParty
from backend.domain.auth.sso import SsoService
from backend.domain.codes.controllers import CodeTableController
from backend.domain.deadlines.controllers import (
    CalendarController,
    DeadlineController,
    TeamBoardController,
)
from backend.domain.media import images
from backend.domain.media.controllers import FileController, TaskFileController, UploadController
from backend.domain.media.storage import LocalBlobStore
from backend.domain.media.uploads import Limits, UploadService
from backend.domain.objects.controllers import InspectionObjectController
from backend.domain.people.controllers import MeController, TeamConflictController
from backend.domain.records.controllers import RecordFormController
from backend.domain.review.controllers import ReviewController
from backend.domain.sync.controllers import DeviceController, SyncController
from backend.domain.sync.team import DeviceAdminController, TeamSyncController
from backend.domain.sync.writer import PushWriter, PushWriting
from backend.domain.sync.writer_process import PushWriterProcess
from backend.domain.tasks.controllers import (
    TaskController,
    TeamAssignmentController,
    TeamTaskController,
)
from backend.domain.upstream.controllers import OutboxController
from backend.domain.upstream.import_controllers import TaskImportController
from backend.domain.upstream.setup import build_forwarder
from backend.http.context import AppContext
from backend.http.deps import DEPENDENCIES, audit_after_response_middleware
from backend.http.health import health, ping
from backend.http.problems import EXCEPTION_HANDLERS
from backend.http.pwa import pwa_routes
from backend.http.security import (
    BearerAuthentication,
    request_id_middleware,
    write_intent_middleware,
)
from backend.settings import Settings, SettingsError

ROUTE_HANDLERS: list[ControllerRouterHandler] = [
    health,
    ping,
    AuthController,
    MeController,
    TaskController,
    TeamTaskController,
    TeamAssignmentController,
    TeamConflictController,
    InspectionObjectController,
    CodeTableController,
    TaskAuditController,
    TeamAuditController,
    AuditController,
    CalendarController,
    DeadlineController,
    TeamBoardController,
    DeviceController,
    DeviceAdminController,
    SyncController,
    TeamSyncController,
    UploadController,
    FileController,
    TaskFileController,
    RecordFormController,
    ReviewController,
    OutboxController,
    TaskImportController,
]


class _Lifespan(InitPluginProtocol):
    """Adds a lifespan manager after those of the plugins listed before it."""

    def __init__(self, manager: Callable[[Litestar], AbstractAsyncContextManager[None]]) -> None:
        self._manager = manager

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.lifespan.append(self._manager)
        return app_config


def _in_memory(url: str) -> bool:
    """An in-memory SQLite database: a child process would open an empty one of its own."""
    if not is_sqlite(url):
        return False
    database = make_url(url).database or ""
    return database in ("", ":memory:") or "mode=memory" in url


def _push_writer(
    settings: Settings,
    session_maker: async_sessionmaker[AsyncSession],
    clock: Clock,
    *,
    clock_given: bool,
) -> PushWriting:
    """The push writer the settings ask for (``Settings.push_writer``)."""
    mode = settings.push_writer
    if mode == "auto":
        url = settings.effective_database_url
        in_child = is_sqlite(url) and not _in_memory(url) and not clock_given
        mode = "process" if in_child else "inline"
    if mode == "process":
        if _in_memory(settings.effective_database_url):
            raise SettingsError("push_writer=process needs a database file, not one in memory")
        if clock_given:
            raise SettingsError("push_writer=process writes with the system clock, not one given")
        return PushWriterProcess(settings)
    return PushWriter(session_maker, clock)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    sso_transport: httpx.AsyncBaseTransport | None = None,
    platform_transport: httpx.AsyncBaseTransport | None = None,
) -> Litestar:
    """Build the app. Without ``settings`` they are read from the ``ZSJG_*`` environment.

    ``sso_transport`` and ``platform_transport`` carry the requests to the platform's issuer
    and API (tests hand in the platform's app itself); by default they go over the network.
    """
    settings = settings or Settings.from_env()
    engine = create_engine(
        settings.effective_database_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        echo=settings.database_echo,
    )
    session_maker = async_sessionmaker(engine, expire_on_commit=False)
    the_clock = clock or SystemClock()
    ctx = AppContext(
        settings=settings,
        clock=the_clock,
        engine=engine,
        session_maker=session_maker,
        login_source=DemoLoginSource(settings.demo_password) if settings.demo_mode else None,
        push_writer=_push_writer(settings, session_maker, the_clock, clock_given=clock is not None),
        uploads=UploadService(
            engine,
            session_maker,
            LocalBlobStore(settings.files_dir),
            settings.files_dir / "spool",  # beside the store: a rename moves a file in
            the_clock,
            Limits(
                max_bytes=settings.upload_max_bytes,
                max_pixels=settings.image_max_pixels,
                expiry=settings.upload_expiry,
            ),
        ),
    )
    oidc: OidcClient | None = None
    if settings.sso_issuer:
        oidc = OidcClient(
            RelyingParty(
                issuer=settings.sso_issuer,
                client_id=settings.sso_client_id,
                client_secret=settings.sso_client_secret,
            ),
            the_clock,
            transport=sso_transport,
        )
        ctx.sso = SsoService(oidc, session_maker, the_clock)
    ctx.forwarder = build_forwarder(ctx, transport=platform_transport)
    images.guard_against_bombs(settings.image_max_pixels)
    db = SQLAlchemyAsyncConfig(
        engine_instance=engine,
        session_config=AsyncSessionConfig(expire_on_commit=False),
        before_send_handler="autocommit",  # closes the session; the commit itself is provide_db_session's
        session_dependency_key="raw_db_session",
        metadata=Base.metadata,
        create_all=False,
        set_default_exception_handler=False,
        alembic_config=AlembicAsyncConfig(
            script_location=str(MIGRATIONS_DIR),
            script_config=str(MIGRATIONS_DIR / "alembic.ini"),
            version_table_name="alembic_version",
            render_as_batch=True,
        ),
    )

    anchoring = PeriodicAnchor(
        engine,
        settings.effective_audit_anchor_file,
        ctx.clock,
        settings.audit_anchor_interval.total_seconds(),
    )

    async def dispose_engine() -> None:
        if oidc is not None:
            await oidc.close()
        await engine.dispose()

    @contextlib.asynccontextmanager
    async def background_work(_: Litestar) -> AsyncIterator[None]:
        """The app's own workers: they stop (draining what they hold) before the engine goes."""
        await anchoring.start()
        await ctx.push_writer.start()
        forwarding = ctx.forwarder if settings.forwarding_worker else None
        if forwarding is not None:
            await forwarding.start()
        try:
            yield
        finally:
            if forwarding is not None:
                await forwarding.stop()
            await ctx.push_writer.stop()
            await ctx.uploads.stop()
            await anchoring.stop()

    return Litestar(
        route_handlers=[*ROUTE_HANDLERS, *pwa_routes(settings.effective_pwa_dir)],
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        # the database plugin disposes the engine when its lifespan ends; the workers' lifespan
        # is registered after it, so it ends first (SQLAlchemyPlugin would add these two
        # plugins only after every plugin listed here, and so after the workers)
        plugins=[
            SQLAlchemyInitPlugin(config=db),
            SQLAlchemySerializationPlugin(),
            _Lifespan(background_work),
        ],
        middleware=[
            request_id_middleware,
            audit_after_response_middleware,
            DefineMiddleware(BearerAuthentication, exclude=["^/schema", "^/healthz$"]),
            write_intent_middleware,
        ],
        state=State({"ctx": ctx}),
        on_startup=[ctx.load_signing_key],
        on_shutdown=[dispose_engine],
        openapi_config=OpenAPIConfig(
            title="掌上监管 API",
            version="1",
            description="Backend of 掌上监管: tasks, sync, evidence and review for field inspections.",
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
        ),
        debug=False,
    )
