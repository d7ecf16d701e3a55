"""Loaded by every Python process started with this folder on PYTHONPATH: the demo's simulated clock."""

import os

if os.environ.get("BENCH_SIMCLOCK_FILE"):
    from bench.city.simclock import install

    install()
