from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = "Agent registry"

    def ready(self) -> None:
        from agents.health import REGISTRY_CHECK, registry_gauges
        from core.health import register_check
        from core.metrics import register_database_gauges

        register_check(REGISTRY_CHECK)
        register_database_gauges(registry_gauges)
