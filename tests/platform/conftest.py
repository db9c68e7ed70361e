"""The platform's API under test (``world``), and bounds in time: a test module that sets
``TIME_LIMIT_SECONDS`` has each of its async tests cancelled (and failed) after that long, so a
deadlock in the platform fails fast, not never."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest

from .api_world import World, running


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with running() as started:
        yield started


def _bounded(test: Callable[..., Awaitable[None]], seconds: float) -> Callable[..., Any]:
    @functools.wraps(test)
    async def bounded(*args: Any, **kwargs: Any) -> None:
        with anyio.fail_after(seconds):
            await test(*args, **kwargs)

    return bounded


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        seconds = getattr(item.module, "TIME_LIMIT_SECONDS", None)
        if seconds is not None and inspect.iscoroutinefunction(item.obj):
            item.obj = _bounded(item.obj, seconds)
