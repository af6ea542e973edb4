"""The Celery app: Redis broker, beat schedule from settings (CELERY_BEAT_SCHEDULE)."""

import os

from celery import Celery
from celery.signals import worker_init, worker_process_shutdown

from core import worker_metrics

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lmos_runtime.settings")

app = Celery("lmos_runtime")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
worker_init.connect(worker_metrics.on_worker_init)
worker_process_shutdown.connect(worker_metrics.on_worker_process_shutdown)
