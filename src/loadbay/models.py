"""Every table, imported once so metadata (and Alembic) sees them all."""

from loadbay.catalog.models import DataType, Flow, Hub, Organization, Record, Task
from loadbay.console.models import ConsoleLinkUse, ConsoleSession
from loadbay.db import Base
from loadbay.exports.models import ExportConfig, ExportLog
from loadbay.heartbeats import WorkerBeat
from loadbay.idempotency_models import IdempotencyKey
from loadbay.imports.models import (
    ImportBeforeImage,
    ImportChunk,
    ImportConfig,
    ImportJob,
    ImportRevertConflict,
    ImportRowIssue,
)
from loadbay.imports.review_models import ImportReview, ImportReviewEdit, ImportReviewIssue
from loadbay.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "Base",
    "ConsoleLinkUse",
    "ConsoleSession",
    "DataType",
    "ExportConfig",
    "ExportLog",
    "Flow",
    "Hub",
    "IdempotencyKey",
    "ImportBeforeImage",
    "ImportChunk",
    "ImportConfig",
    "ImportJob",
    "ImportRevertConflict",
    "ImportReview",
    "ImportReviewEdit",
    "ImportReviewIssue",
    "ImportRowIssue",
    "Organization",
    "Record",
    "Task",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WorkerBeat",
]
