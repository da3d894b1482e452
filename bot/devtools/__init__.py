"""Local stand-ins used by the demo, the tests and the benchmarks: never by production."""
