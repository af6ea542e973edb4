"""Shared plumbing: environment, database, errors, logging, metrics and health checks.

Nothing here imports an app: apps import core, never the other way round.
"""
