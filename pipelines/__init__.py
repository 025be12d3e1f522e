"""The workload: face preprocessing and its datasets. Knows nothing of executors or timing tables."""
