from core import tracing
from lmos_runtime.celery import app as celery_app

tracing.setup()  # from the OTEL_* environment; nothing when it asks for no traces

__all__ = ["celery_app"]
