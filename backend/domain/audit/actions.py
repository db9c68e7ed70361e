"""The closed list of audited actions. ``docs/audit.md`` explains each; nothing else is recorded."""

from __future__ import annotations

import enum


class AuditAction(enum.StrEnum):
    # identity and devices
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    DEVICE_REGISTERED = "device_registered"
    DEVICE_REVOKED = "device_revoked"
    REFRESH_TOKEN_REUSE_DETECTED = "refresh_token_reuse_detected"  # noqa: S105 - an action name
    # tasks and assignment
    TASK_IMPORTED = "task_imported"
    PLATFORM_CHANGE_ACKNOWLEDGED = "platform_change_acknowledged"
    TASK_ASSIGNED = "task_assigned"
    TASK_REASSIGNED = "task_reassigned"
    TASK_TRANSITIONED = "task_transitioned"
    RULE_REFUSED = "rule_refused"
    CONFLICT_OF_INTEREST_DECLARED = "conflict_of_interest_declared"
    OBJECT_REGISTERED = "object_registered"
    # sync
    MUTATION_APPLIED = "mutation_applied"
    MUTATION_REJECTED = "mutation_rejected"
    MUTATION_FLAGGED_LATE = "mutation_flagged_late"
    CONFLICT_RECORDED = "conflict_recorded"
    CONFLICT_RESOLVED = "conflict_resolved"
    # evidence
    FILE_ACCEPTED = "file_accepted"
    FILE_REFUSED = "file_refused"
    # review and forwarding
    RECORD_APPROVED = "record_approved"
    RECORD_RETURNED = "record_returned"
    RECORD_FORWARDED = "record_forwarded"
    RECORD_PUBLISHED = "record_published"
    RECORD_REOPENED = "record_reopened"
    RECORD_DEAD_LETTERED = "record_dead_lettered"
    RECORD_RETRIED = "record_retried"
    # reference data
    CALENDAR_CHANGED = "calendar_changed"
    CODE_TABLE_PUBLISHED = "code_table_published"
