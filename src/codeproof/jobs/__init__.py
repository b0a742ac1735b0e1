"""codeproof.jobs: the durable coding queue, the coding service and its worker."""

from __future__ import annotations

from codeproof.jobs.queue import ClaimedJob, DatabaseQueue, JobRecord
from codeproof.jobs.service import CodingService, SubmitResult, Worker, open_queue

__all__ = ["ClaimedJob", "CodingService", "DatabaseQueue", "JobRecord", "SubmitResult",
           "Worker", "open_queue"]
