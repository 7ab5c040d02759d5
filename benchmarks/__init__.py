"""Benchmarks, each a script (``python benchmarks/bench_store.py``); a package too, so
that one imports another by one name (``benchmarks.bench_bridge``)."""
