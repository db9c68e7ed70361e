"""The ORM models, all on one metadata (``Base.metadata``) for Alembic."""

from ._base import Base, utcnow
from .audit import AuditChainHead, AuditEvent
from .auth import Device, RefreshToken, SsoLogin
from .calendar import CalendarDay, CalendarYear
from .catalog import (
    ChecklistPoint,
    CodeTableVersion,
    InspectionItem,
    InspectionItemVersion,
    ItemCategory,
)
from .imports import HeldImport, UpstreamCursor
from .media import StoredFile, Upload
from .objects import InspectionObject, ObjectKind
from .people import (
    ConflictOfInterest,
    Department,
    DepartmentLevel,
    InspectorProfile,
    Role,
    Team,
    User,
)
from .sync import (
    DeviceSync,
    MutationLogEntry,
    SyncAmendment,
    SyncConflict,
    SyncMeta,
    SyncRecord,
    SyncRejection,
    TaskRevocation,
)
from .tasks import AssignmentHistoryEntry, Plan, Task, TaskAssignment, TaskItem, TaskStatus
from .upstream import OutboxKind, OutboxMessage, OutboxState

__all__ = [
    "AssignmentHistoryEntry",
    "AuditChainHead",
    "AuditEvent",
    "Base",
    "CalendarDay",
    "CalendarYear",
    "ChecklistPoint",
    "CodeTableVersion",
    "ConflictOfInterest",
    "Department",
    "DepartmentLevel",
    "Device",
    "DeviceSync",
    "HeldImport",
    "InspectionItem",
    "InspectionItemVersion",
    "InspectionObject",
    "InspectorProfile",
    "ItemCategory",
    "MutationLogEntry",
    "ObjectKind",
    "OutboxKind",
    "OutboxMessage",
    "OutboxState",
    "Plan",
    "RefreshToken",
    "Role",
    "SsoLogin",
    "StoredFile",
    "SyncAmendment",
    "SyncConflict",
    "SyncMeta",
    "SyncRecord",
    "SyncRejection",
    "Task",
    "TaskAssignment",
    "TaskItem",
    "TaskRevocation",
    "TaskStatus",
    "Team",
    "Upload",
    "UpstreamCursor",
    "User",
    "utcnow",
]
