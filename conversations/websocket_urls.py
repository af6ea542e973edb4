from django.urls import path

from conversations.consumers import ArcConsumer

websocket_urlpatterns = [
    path("subscriptions", ArcConsumer.as_asgi()),
]
