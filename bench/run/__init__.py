"""Running a benchmark: configuration and suites, the runner and its clock, the worker-side task,
verification, faults and retries, resume. The only room that starts workers."""
