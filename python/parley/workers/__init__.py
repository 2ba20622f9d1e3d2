"""Background workers: ``parley worker files`` (see :mod:`parley.workers.files`)."""

from parley.workers.files import FileWorker, FileWorkerSettings, FileWorkerThread, WorkerStats

__all__ = ["FileWorker", "FileWorkerSettings", "FileWorkerThread", "WorkerStats"]
