"""``zsjg bench pwa``: the phone's two budgets, each against a baseline taken in the same run.

* **Repeat start offline** under 4× CPU throttling (Chromium's DevTools throttle), at a phone's
  size: the demo server serves the built PWA, a demo inspector signs in and downloads the
  tasks, the browser goes offline, and the page is reloaded again and again. Measured: the
  time from navigation to a rendered task list; baseline: the first contentful paint of the
  same load (the static shell the service worker serves), so the ratio is what the app's own
  start costs on top of what the browser must do anyway.
* **Storing a 500-task pull** (500 tasks with their items and checklists, 3,500 records) with
  the app's sync client — Dexie, every page in one transaction — against a raw IndexedDB
  write of the same objects in one transaction (after the same JSON parse).

Needs the built PWA (``npm run build`` in ``pwa/``) and Chromium (``scripts/install.sh``).
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from backend.bench import PASSWORD, served

PWA = Path(__file__).resolve().parent.parent / "pwa"
CHROMIUM = os.environ.get("ZSJG_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
THROTTLE = 4


@contextmanager
def _static(folder: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


async def _start_offline(base: str, rounds: int) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = await browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN"
        )
        page = await context.new_page()
        await page.goto(base + "/")
        await page.fill("input[name=username]", "insp01")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_selector(".task", timeout=60_000)
        await page.wait_for_function("navigator.serviceWorker.controller !== null")
        await page.wait_for_function(
            "document.querySelector('.syncline')?.textContent.includes('无待同步')"
        )
        cdp = await context.new_cdp_session(page)
        await cdp.send("Emulation.setCPUThrottlingRate", {"rate": THROTTLE})
        await context.set_offline(True)
        starts, paints = [], []
        for _ in range(rounds + 1):  # the first reload warms the caches and is not counted
            await page.reload()
            await page.wait_for_selector(".task", timeout=60_000)
            rendered = await page.evaluate("performance.now()")
            paint = await page.evaluate(
                "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
            )
            starts.append(rendered)
            paints.append(paint)
        tasks = await page.locator(".task").count()
        await browser.close()
    starts, paints = starts[1:], [p for p in paints[1:] if p is not None]
    return {
        "rounds": rounds,
        "cpu_throttling": THROTTLE,
        "tasks_listed": tasks,
        "first_paint_ms": round(statistics.median(paints), 1),
        "task_list_ms": round(statistics.median(starts), 1),
        "ratio_to_first_paint": round(statistics.median(starts) / statistics.median(paints), 2),
    }


async def _store_pull(base: str) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await browser.new_page()
        await page.goto(base + "/index.html")
        await page.wait_for_function("window.benchResult !== undefined", timeout=300_000)
        result: dict[str, Any] = await page.evaluate("window.benchResult")
        await browser.close()
    if "error" in result:
        raise RuntimeError(result["error"])
    result["ratio_to_raw_indexeddb"] = round(result["app_ms"] / result["raw_ms"], 2)
    result["app_ms"] = round(result["app_ms"], 1)
    result["raw_ms"] = round(result["raw_ms"], 1)
    return result


def run(rounds: int = 7) -> dict[str, Any]:
    import logging

    if not (PWA / "dist" / "index.html").is_file():
        raise SystemExit("build the PWA first: (cd pwa && npm run build)")
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"no Chromium at {CHROMIUM}: run scripts/install.sh")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    npx = shutil.which("npx") or "npx"
    print("building the benchmark page…", file=sys.stderr)
    subprocess.run(  # noqa: S603
        [npx, "vite", "build", "--config", "vite.bench.config.ts", "--logLevel", "warn"],
        cwd=PWA,
        check=True,
    )
    root = Path(tempfile.mkdtemp(prefix="zsjg-bench-pwa-"))
    figures: dict[str, Any] = {}
    print("storing a 500-task pull in IndexedDB (Dexie, then raw)…", file=sys.stderr)
    with _static(PWA / "dist-bench") as base:
        figures["store_500_task_pull"] = asyncio.run(_store_pull(base))
    print(
        f"starting the app offline {rounds} times under {THROTTLE}× CPU throttling…",
        file=sys.stderr,
    )
    with served(root / "data", root) as base:
        figures["repeat_start_offline"] = asyncio.run(_start_offline(base, rounds))
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    return figures
