"""Generated data: realistic sample logs for the demo and the benchmarks (never read by production paths)."""
