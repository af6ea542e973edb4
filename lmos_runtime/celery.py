"""The Celery app: Redis broker, beat schedule from settings (CELERY_BEAT_SCHEDULE)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lmos_runtime.settings")

app = Celery("lmos_runtime")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
