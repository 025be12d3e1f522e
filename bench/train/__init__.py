"""The harness side of training: the descriptor stage over the executors, and `facebench train`."""
