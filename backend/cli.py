"""The ``zsjg`` command: Litestar's CLI (``zsjg run``, ``zsjg database …``) plus our own commands."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import rich_click as click
from litestar.cli.main import litestar_group

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
@click.option("--no-serve", is_flag=True, help="Migrate and seed, then stop (no server).")
def demo_command(host: str, port: int, data_dir: Path, no_serve: bool) -> None:
    """Run the whole system with demo data on the embedded SQLite database."""
    import uvicorn

    from backend.app import create_app
    from backend.clock import SystemClock
    from backend.db.migrate import upgrade
    from backend.demo.seed import DEMO_ACCOUNTS_HINT, seed_if_empty
    from backend.settings import Settings

    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env(data_dir=data_dir, demo_mode=True, generate_signing_key=True)
    click.echo(f"Database: {settings.effective_database_url}")
    upgrade(settings.effective_database_url)
    accounts = asyncio.run(seed_if_empty(settings, SystemClock()))
    click.echo(
        f"\n掌上监管 demo — backend: http://{host}:{port}/  (API schema: http://{host}:{port}/schema)"
    )
    click.echo(f"Demo accounts (password for all: {settings.demo_password}):")
    for line in accounts:
        click.echo(f"  {line}")
    click.echo(DEMO_ACCOUNTS_HINT)
    if no_serve:
        return
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def main() -> None:
    """Entry point of the ``zsjg`` console script."""
    os.environ.setdefault("LITESTAR_APP", APP_PATH)
    litestar_group.add_command(demo_command)
    sys.exit(litestar_group(prog_name="zsjg"))
