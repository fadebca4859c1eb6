"""Timing shared by the benchmarks: round-robin medians, so changes in machine load hit every side alike."""
import statistics
import time


def median_times(fns, repeats, warmup=3):
    """Median seconds of each zero-argument function over ``repeats`` turns, after ``warmup`` calls each."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, record in zip(fns, times):
            start = time.perf_counter()
            fn()
            record.append(time.perf_counter() - start)
    return [statistics.median(record) for record in times]
