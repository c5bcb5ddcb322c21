"""The sweep engine: scheduling, executors, workers, search strategies and precompute."""
