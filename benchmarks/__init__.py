"""Training-throughput benchmarks (`make bench`); see README.md."""
