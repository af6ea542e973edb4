import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from core import env

ROOT = Path(__file__).resolve().parent.parent


def _load_settings(extra_env: dict[str, str], setting: str = "AGENT_TIMEOUT") -> subprocess.CompletedProcess:
    """Start Django in a new process with `extra_env` and print `setting`."""
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    environment.update({"DJANGO_SETTINGS_MODULE": "lmos_runtime.settings", "SECRET_KEY": "x" * 50}, **extra_env)
    code = f"import django; django.setup(); from django.conf import settings; print(settings.{setting})"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AGENT_TIMEOUT", "abc"),
        ("DEBUG", "maybe"),
        ("ROUTER_TYPE", "magic"),
        ("MAX_MESSAGES", "0"),
        ("RATE_LIMIT_PER_MINUTE", "ten"),
        ("OPENAI_API_TEMP", "nan"),
    ],
)
def test_bad_value_stops_startup_naming_the_variable(name, value):
    result = _load_settings({name: value})
    assert result.returncode != 0
    assert name in result.stderr
    assert "Traceback" in result.stderr or "ImproperlyConfigured" in result.stderr


def test_good_values_are_read():
    result = _load_settings({"AGENT_TIMEOUT": "2.5"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2.5"


def test_defaults_match_the_configuration_table(settings):
    assert settings.REGISTRY_SOURCE in ("operator", "kubernetes", "file")
    defaults = {
        "AGENT_REGISTRY_TIMEOUT": 10.0,
        "AGENT_SYNC_INTERVAL": 30.0,
        "MAX_REQUEST_BYTES": 1024 * 1024,
        "MAX_MESSAGES": 200,
        "MAX_MESSAGE_CHARS": 32000,
        "OPENAI_API_MODEL": "gpt-4o-mini",
        "OPENAI_API_MAX_TOKENS": 2000,
        "OPENAI_API_TEMP": 0.0,
        "OPENAI_API_FORMAT": "json_object",
    }
    for name, value in defaults.items():
        if name not in os.environ:
            assert getattr(settings, name) == value, name


def test_env_helpers_are_strict(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    assert env.env_bool("X_BOOL", False) is True
    monkeypatch.setenv("X_BOOL", "perhaps")
    with pytest.raises(ImproperlyConfigured, match="X_BOOL"):
        env.env_bool("X_BOOL", False)
    monkeypatch.setenv("X_INT", "12")
    assert env.env_int("X_INT", 1) == 12
    monkeypatch.setenv("X_INT", "1.5")
    with pytest.raises(ImproperlyConfigured, match="X_INT"):
        env.env_int("X_INT", 1)
    monkeypatch.setenv("X_LIST", " a, b ,,c ")
    assert env.env_list("X_LIST") == ["a", "b", "c"]


def test_lmos_aliases_are_read_when_first_names_are_unset(monkeypatch):
    monkeypatch.delenv("OPENAI_API_MODEL", raising=False)
    monkeypatch.setenv("LLM_MODEL_NAME", "my-model")
    assert env.env_str("OPENAI_API_MODEL", "gpt-4o-mini", aliases=["LLM_MODEL_NAME"]) == "my-model"
    monkeypatch.setenv("OPENAI_API_MODEL", "first")
    assert env.env_str("OPENAI_API_MODEL", "gpt-4o-mini", aliases=["LLM_MODEL_NAME"]) == "first"


def test_json_format_spelling_means_json_object():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.OPENAI_API_FORMAT)",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "lmos_runtime.settings", "OPENAI_API_FORMAT": "json_format"},
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == "json_object", result.stderr


def test_every_setting_is_documented_in_the_readme_configuration_table():
    import re

    from tests.conftest import settings_env_vars

    names = settings_env_vars()
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z_]+)`", table, flags=re.MULTILINE))
    assert names - documented == set(), "settings missing from the README table"
    assert documented - names == set(), "README documents settings that do not exist"


def test_a_turn_lease_renewed_less_than_twice_per_lease_stops_startup():
    result = _load_settings({"TURN_LEASE_SECONDS": "6", "TURN_LEASE_RENEW_SECONDS": "4"})
    assert result.returncode != 0
    assert "TURN_LEASE_RENEW_SECONDS" in result.stderr
    good = _load_settings({"TURN_LEASE_SECONDS": "6", "TURN_LEASE_RENEW_SECONDS": "3"}, "TURN_LEASE_RENEW_SECONDS")
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == "3.0"
