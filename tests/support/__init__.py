"""Fixtures shared by the tests and the benchmarks: loopback Arc agents, an LMOS Operator and a Kubernetes API."""
