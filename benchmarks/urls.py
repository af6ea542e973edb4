"""The runtime's URLs plus the benchmark floor: a bare async view that only sleeps."""

import asyncio

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from lmos_runtime.urls import urlpatterns as runtime_urlpatterns


@csrf_exempt
async def sleep_view(request) -> HttpResponse:
    await asyncio.sleep(float(request.GET.get("s", "0.5")))
    return HttpResponse(b'{"content": "ok"}', content_type="application/json")


urlpatterns = [path("bench/sleep", sleep_view), *runtime_urlpatterns]
