"""The chat fast path: which views take it, and the system check that keeps MIDDLEWARE
honest about what it skips."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from conversations.middleware import FAST_PATH, SKIPPED, check_fast_path_middleware, fast_view


def test_the_project_middleware_passes_the_check(settings):
    assert check_fast_path_middleware() == []
    after = settings.MIDDLEWARE[settings.MIDDLEWARE.index(FAST_PATH) + 1 :]
    assert after and set(after) <= set(SKIPPED)
    call_command("check")


def test_a_middleware_the_fast_path_would_skip_fails_the_check(settings):
    extra = "django.middleware.locale.LocaleMiddleware"
    with override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, extra]):
        (problem,) = check_fast_path_middleware()
        assert problem.id == "conversations.E001" and extra in problem.msg
        with pytest.raises(SystemCheckError, match="LocaleMiddleware"):
            call_command("check")
    before = list(settings.MIDDLEWARE)
    before.insert(before.index(FAST_PATH), extra)
    with override_settings(MIDDLEWARE=before):
        assert check_fast_path_middleware() == []


@pytest.mark.parametrize(
    ("path", "fast"),
    [
        ("/apis/v1/acme/chat/c-1/message", True),
        ("/lmos/runtime/apis/v1/acme/chat/c-1/stream", True),
        ("/apis/v1/no/such/endpoint", True),
        # These read the admin session (AuthenticationMiddleware), so they take the normal path.
        ("/apis/v1/acme/conversations/c-1", False),
        ("/apis/v1/agents", False),
        ("/admin/", False),
    ],
)
def test_only_views_declared_fast_take_the_fast_path(path, fast):
    assert (fast_view(path) is not None) == fast
