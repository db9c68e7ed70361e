"""Domain errors: nouns of the domain, translated to HTTP in one table (``backend.http.problems``).

Services raise these and never HTTP exceptions. Each carries a stable ``code`` (the
``type`` of the problem-details body), a human ``detail`` and optional structured ``extra``.

    DomainError
    ├── NotFound                 404 (also what another user's object looks like)
    │   ├── TaskNotFound
    │   └── UploadNotFound
    ├── AuthenticationFailed     401
    │   ├── InvalidCredentials
    │   ├── InvalidToken
    │   ├── RefreshTokenReused
    │   └── DeviceRevoked
    ├── PermissionDenied         403 (wrong role; objects of others answer 404)
    ├── Conflict                 409
    │   ├── DeviceOwnedByAnotherUser
    │   ├── DuplicateObject
    │   ├── UploadOffsetMismatch
    │   └── TaskNotHeld (release of a task that is not held)
    ├── TusProtocolError 400, TusVersionUnsupported 412, FileTooLarge 413,
    │   UnsupportedFileType 415, UploadGone 410, UploadBusy 423, ChecksumMismatch 460
    └── RuleViolation            422 (a rule from the regulations refused the change)
        ├── TooFewInspectors, NoPrimaryInspector, InspectorNotFound
        ├── CertificateNotValid, InspectorNotQualified, ItemNotCovered
        ├── ConflictOfInterestDeclared, ItemNotListed, InvalidUSCC, InvalidCalendarFile
        └── InvalidInput
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "domain-error"
    title: ClassVar[str] = "The request cannot be carried out"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    status = 404
    code = "not-found"
    title = "Not found"


class TaskNotFound(NotFound):
    code = "task-not-found"
    title = "Task not found"


class AuthenticationFailed(DomainError):
    status = 401
    code = "authentication-failed"
    title = "Authentication failed"


class InvalidCredentials(AuthenticationFailed):
    code = "invalid-credentials"
    title = "Wrong user name or password"


class InvalidToken(AuthenticationFailed):
    code = "invalid-token"
    title = "The token is not valid"


class RefreshTokenReused(AuthenticationFailed):
    code = "refresh-token-reused"
    title = "A refresh token was used twice; the device's session has been ended"


class DeviceRevoked(AuthenticationFailed):
    code = "device-revoked"
    title = "This device has been revoked"


class PermissionDenied(DomainError):
    status = 403
    code = "permission-denied"
    title = "Your role does not allow this"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflicts with the current state"


class DeviceOwnedByAnotherUser(Conflict):
    code = "device-owned-by-another-user"
    title = "This device id belongs to another user"


class DuplicateObject(Conflict):
    code = "duplicate-object"
    title = "An inspection object with this code exists already"


class UploadNotFound(NotFound):
    code = "upload-not-found"
    title = "No such upload (or it is not yours)"


class UploadGone(DomainError):
    status = 410
    code = "upload-gone"
    title = "The upload has expired or was ended; start a new one"


class UploadOffsetMismatch(Conflict):
    code = "upload-offset-mismatch"
    title = "Upload-Offset is not where the upload stands; ask with HEAD and resume from there"


class UploadBusy(DomainError):
    status = 423
    code = "upload-busy"
    title = "Another request is writing this upload"


class ChecksumMismatch(DomainError):
    status = 460
    code = "checksum-mismatch"
    title = "The bytes do not match their checksum; nothing of them was kept"


class UnsupportedFileType(DomainError):
    status = 415
    code = "unsupported-file-type"
    title = "Only JPEG, PNG and WebP images are accepted"


class FileTooLarge(DomainError):
    status = 413
    code = "file-too-large"
    title = "The file is larger than allowed"


class TusProtocolError(DomainError):
    status = 400
    code = "tus-protocol-error"
    title = "The request does not follow the tus 1.0 protocol"


class TusVersionUnsupported(DomainError):
    status = 412
    code = "tus-version-unsupported"
    title = "Only tus 1.0.0 is spoken here"


class RuleViolation(DomainError):
    status = 422
    code = "rule-violation"
    title = "A rule refuses this change"


class TooFewInspectors(RuleViolation):
    code = "too-few-inspectors"
    title = "A task needs at least two inspectors"


class NoPrimaryInspector(RuleViolation):
    code = "no-primary-inspector"
    title = "Exactly one assigned inspector must be the primary (主检)"


class InspectorNotFound(RuleViolation):
    code = "inspector-not-found"
    title = "No such active inspector"


class CertificateNotValid(RuleViolation):
    code = "certificate-not-valid"
    title = "The inspector's 执法证 is not valid on the due date"


class InspectorNotQualified(RuleViolation):
    code = "inspector-not-qualified"
    title = "The inspector is not qualified for any of the task's items"


class ItemNotCovered(RuleViolation):
    code = "item-not-covered"
    title = "An item has no qualified inspector of its department"


class ConflictOfInterestDeclared(RuleViolation):
    code = "conflict-of-interest"
    title = "The inspector has a declared conflict of interest (回避) with the object"


class ItemNotListed(RuleViolation):
    code = "item-not-listed"
    title = "The item is not on the published list (清单之外无检查)"


class InvalidUSCC(RuleViolation):
    code = "invalid-uscc"
    title = "Not a valid 统一社会信用代码"


class InvalidInput(RuleViolation):
    code = "invalid-input"
    title = "The input is not valid"


class InvalidCalendarFile(RuleViolation):
    code = "invalid-calendar-file"
    title = "The calendar file is not valid"


class TaskNotReviewable(Conflict):
    """The task is not in a state this review step applies to (e.g. approving an unsubmitted task)."""

    code = "task-not-reviewable"


class RecordIncomplete(Conflict):
    """Approval refused: files the record names have not arrived, or signatures went stale."""

    code = "record-incomplete"


class OwnRecord(PermissionDenied):
    """A lead may not approve a record they inspected themselves (a second pair of eyes)."""

    code = "own-record"


class OutboxMessageNotFound(NotFound):
    code = "outbox-message-not-found"


class TaskNotHeld(Conflict):
    """A release asked for a task that is not held (it was released, withdrawn, or never held)."""

    code = "task-not-held"
