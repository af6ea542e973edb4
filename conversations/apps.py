from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = "Conversations"

    def ready(self) -> None:
        from conversations import middleware  # noqa: F401  (registers its system check)
        from conversations.selectors import routed_queries
        from routing.learning import read_observations_with

        # The queries the vector router learns from are the user messages of stored turns.
        read_observations_with(routed_queries)
