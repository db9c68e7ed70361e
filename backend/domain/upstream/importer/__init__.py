"""Task import: the main platform's task feed, taken in page by page, nothing dropped.

Each round reads the feed from the stored cursor until it says ``more: false`` (at most
``max_pages`` pages) and applies every page **in one transaction together with its cursor**:
a crash re-reads the page, and the upsert is idempotent by ``(task_ref, version)`` — an older
or equal version than the one taken in is ignored. What an item becomes:

* a new active task is checked against the same rules as a task issued here (the published
  list, two qualified inspectors, the primary, recusal, valid 执法证, the plan's dates, and a
  due date not already past) and created ``assigned`` like an issued task; one that breaks a
  rule is created ``held`` with the rule's message in ``hold_reason`` and **no assignments**,
  so no phone receives it (the pull reads a user's tasks from their assignments) — the
  platform's inspectors stay in ``platform_task`` for the lead, who releases it
  (``release_held_task``) or waits for a corrected version;
* a feed task that cannot become a task at all (unlisted items, an unknown department, a bad
  统一社会信用代码, a malformed item…) is kept as a ``HeldImport`` with the reason;
* a changed task: a held one is re-checked (and released when it now passes); an assigned one
  with nothing captured takes every change (inspectors with revocations, items with tombstones);
  with work under way only the name and due date change and the rest waits for the lead in
  ``platform_change_pending`` (DESIGN §7: the platform wins, except over pending local work);
* a withdrawn task becomes ``withdrawn`` (phones pull it so), or, once approved or later, the
  withdrawal is kept for the lead and the status left alone.

Every outcome is audited as ``task_imported`` by the system with the task's ref, version and
``outcome``. A feed error (401 after one renewal, 403, 429, 5xx, the network) ends the round
with nothing changed; the next round starts from the same cursor.
"""

from __future__ import annotations

from ._apply import WITHDRAWABLE
from ._feed import (
    FeedClient,
    FeedError,
    FeedItem,
    FeedObject,
    FeedPage,
    FeedPlan,
    FeedTask,
    ShortText,
    Subject,
    TaskRef,
)
from ._importer import FEED, TaskImporter, build_importer
from ._report import ImportReport, Unresolvable
from ._rules import activate, check_task, requirements_of

__all__ = [
    "FEED",
    "WITHDRAWABLE",
    "FeedClient",
    "FeedError",
    "FeedItem",
    "FeedObject",
    "FeedPage",
    "FeedPlan",
    "FeedTask",
    "ImportReport",
    "ShortText",
    "Subject",
    "TaskImporter",
    "TaskRef",
    "Unresolvable",
    "activate",
    "build_importer",
    "check_task",
    "requirements_of",
]
