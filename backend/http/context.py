"""What the running app holds beside the request: settings, clock, keys, database handles."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backend.clock import Clock
from backend.domain.auth.login_sources import LoginSource
from backend.domain.auth.sso import SsoService
from backend.domain.auth.tokens import TokenSigner
from backend.domain.media.uploads import UploadService
from backend.domain.sync.writer import PushWriting
from backend.domain.upstream.worker import Forwarder
from backend.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    session_maker: async_sessionmaker[AsyncSession]
    login_source: LoginSource | None
    push_writer: PushWriting
    uploads: UploadService
    sso: SsoService | None = None
    """Sign-in through the platform's single sign-on, when an issuer is configured."""
    forwarder: Forwarder | None = None
    """The forwarding worker, when a platform is configured."""
    _signer: TokenSigner | None = field(default=None, repr=False)

    def wake_forwarder(self) -> None:
        """New messages are (about to be) in the outbox: the worker need not wait for its poll."""
        if self.forwarder is not None:
            self.forwarder.wake()

    @property
    def signer(self) -> TokenSigner:
        if self._signer is None:
            raise RuntimeError("the signing key is loaded at start-up")
        return self._signer

    def load_signing_key(self) -> None:
        if self._signer is None:
            self._signer = TokenSigner.from_file(
                self.settings.effective_signing_key_file,
                generate=self.settings.generate_signing_key,
                issuer=self.settings.token_issuer,
                audience=self.settings.token_audience,
            )
