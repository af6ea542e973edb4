"""Production-like settings for the benchmark server, plus the floor view's URL."""

from lmos_runtime.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.urls"
