"""The benchmark: `make bench` (BENCH_EVENTS=1000000 for the full size)."""
