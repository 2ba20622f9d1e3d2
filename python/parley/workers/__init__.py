"""Background workers: ``parley worker files`` and ``parley worker calls`` (modules files and calls)."""

from parley.workers.calls import CallWorker
from parley.workers.files import FileWorker, FileWorkerSettings, FileWorkerThread, WorkerStats

__all__ = ["CallWorker", "FileWorker", "FileWorkerSettings", "FileWorkerThread", "WorkerStats"]
