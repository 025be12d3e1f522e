"""The harness: executors, stores, tables, reports; it knows the workload only by its entry points."""

__version__ = "0.1.0"
