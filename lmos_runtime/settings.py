"""Settings for the LMOS Runtime, read from environment variables only.

Every variable has a safe embedded default (see the configuration table in README.md).
Without DATABASE_URL / REDIS_URL the runtime uses a SQLite file, a local-memory cache and
an in-memory channel layer, so `make run` needs no services.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from pathlib import Path

import dj_database_url

from core.env import env_bool, env_choice, env_file, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var")))

log = logging.getLogger("lmos_runtime.settings")


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    # Generated once and kept, so sessions survive a restart of `make run`.
    path = DATA_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    print(f"WARNING: SECRET_KEY is not set; generated one in {path}. Set SECRET_KEY in production.", file=sys.stderr)
    return key


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "agents",
    "routing",
    "conversations",
]

MIDDLEWARE = [
    # First: probes and /metrics answer before ALLOWED_HOSTS checks (probes use the pod IP).
    "core.probes.probes_middleware",
    "corsheaders.middleware.CorsMiddleware",
    # The chat API's hot endpoints skip the synchronous middleware below (see the module).
    "conversations.middleware.api_fast_path",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "lmos_runtime.urls"
ASGI_APPLICATION = "lmos_runtime.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
# Per process, for the ORM and again for the turn path's event-loop pool (core/pg.py).
DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 10, minimum=1)
if DATABASE_URL:
    try:
        _db = dj_database_url.parse(DATABASE_URL, conn_max_age=0, conn_health_checks=True)
    except ValueError as exc:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"Environment variable DATABASE_URL is invalid: {exc}") from None
    _db.setdefault("OPTIONS", {})
    if _db["ENGINE"].endswith("postgresql"):
        # A small pool per process: the turn path takes a connection for each short
        # database block and gives it back before awaiting an agent. With health checks
        # on, the pool replaces a connection that died (a restarted PostgreSQL) before
        # handing it out.
        _db["CONN_HEALTH_CHECKS"] = True
        _db["OPTIONS"]["pool"] = {
            "min_size": 1,
            "max_size": DATABASE_POOL_SIZE,
            "timeout": 10,
        }
    DATABASES = {"default": _db}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(DATA_DIR / "lmos.sqlite3")),
            # WAL + a busy timeout + IMMEDIATE transactions: 50 concurrent turns must not
            # fail with "database is locked".
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file, not shared-cache memory: tests then see the same WAL locking as production.
            # One file per test run, so that two runs at once do not share it.
            "TEST": {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Celery broker ---------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "lmos",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
    CELERY_BROKER_URL = REDIS_URL
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "lmos"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"

# --- Agent registry -------------------------------------------------------------------
# The names of agents.sources.SOURCES (tests/test_choices.py holds them equal).
REGISTRY_SOURCES = ("operator", "kubernetes", "file")
REGISTRY_SOURCE = env_choice("REGISTRY_SOURCE", "operator", REGISTRY_SOURCES)
AGENT_REGISTRY_URL = env_str("AGENT_REGISTRY_URL", "http://lmos-operator:8080").rstrip("/")
AGENT_REGISTRY_FILE = env_str("AGENT_REGISTRY_FILE")
AGENT_REGISTRY_TIMEOUT = env_float("AGENT_REGISTRY_TIMEOUT", 10.0, minimum=0.1)
LMOS_TENANTS = env_list("LMOS_TENANTS")
LMOS_SUBSETS = env_list("LMOS_SUBSETS", ["stable"])
LMOS_NAMESPACE = env_str("LMOS_NAMESPACE")
AGENT_SYNC_INTERVAL = env_float("AGENT_SYNC_INTERVAL", 30.0, minimum=1)
# Without REDIS_URL (no Celery beat) the web process runs the SCHEDULE below on a timer itself.
EMBEDDED_SYNC = env_bool("EMBEDDED_SYNC", True)
AGENT_TIMEOUT = env_float("AGENT_TIMEOUT", 30.0, minimum=0.01)
AGENT_CONNECT_TIMEOUT = env_float("AGENT_CONNECT_TIMEOUT", 5.0, minimum=0.01)
# A web process holds a lease on the turns it runs, renewed every TURN_LEASE_RENEW_SECONDS;
# the retry of a pending turn whose owner's lease lapsed (the process died) takes it over.
TURN_LEASE_SECONDS = env_float("TURN_LEASE_SECONDS", 6.0, minimum=1.0)
TURN_LEASE_RENEW_SECONDS = env_float("TURN_LEASE_RENEW_SECONDS", 2.0, minimum=0.1)
if TURN_LEASE_RENEW_SECONDS * 2 > TURN_LEASE_SECONDS:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "TURN_LEASE_RENEW_SECONDS must be at most half of TURN_LEASE_SECONDS, so that one late renewal does not "
        "let a live process's turns be taken over"
    )
# Agent WebSockets are reused: up to AGENT_POOL_SIZE per (agent, subset), each carrying up
# to AGENT_POOL_STREAMS concurrent subscriptions. AGENT_POOL_SIZE=0 opens one per turn.
AGENT_POOL_SIZE = env_int("AGENT_POOL_SIZE", 4, minimum=0)
AGENT_POOL_STREAMS = env_int("AGENT_POOL_STREAMS", 100, minimum=1)
# Circuit breaker per agent: fail fast after this many consecutive transport failures.
AGENT_CIRCUIT_FAILURES = env_int("AGENT_CIRCUIT_FAILURES", 5, minimum=1)
AGENT_CIRCUIT_COOLDOWN = env_float("AGENT_CIRCUIT_COOLDOWN", 10.0, minimum=0.0)
# The Celery worker serves its own /metrics on this port (unset: none).
WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", None, minimum=1)
# Send the routed agent's name as Arc `agentName` (the Kotlin runtime sends null).
AGENT_SEND_NAME = env_bool("AGENT_SEND_NAME", False)

# --- Routing --------------------------------------------------------------------------
# The names of routing.strategies.STRATEGIES (tests/test_choices.py holds them equal).
ROUTER_TYPES = ("vector", "llm", "hybrid", "explicit")
ROUTER_TYPE = env_choice("ROUTER_TYPE", "vector", ROUTER_TYPES)
OPENAI_API_URL = env_str("OPENAI_API_URL", "https://api.openai.com/v1", aliases=["LLM_BASE_URL"])
OPENAI_API_KEY = env_str("OPENAI_API_KEY", None, aliases=["LLM_API_KEY"])
OPENAI_API_MODEL = env_str("OPENAI_API_MODEL", "gpt-4o-mini", aliases=["LLM_MODEL_NAME"])
OPENAI_API_MAX_TOKENS = env_int("OPENAI_API_MAX_TOKENS", 2000, minimum=1, aliases=["LLM_MAX_TOKENS"])
OPENAI_API_TEMP = env_float("OPENAI_API_TEMP", 0.0, minimum=0.0, maximum=2.0, aliases=["LLM_TEMPERATURE"])
OPENAI_API_FORMAT = env_choice(
    "OPENAI_API_FORMAT", "json_object", ["json_object", "json_format", "text"], aliases=["LLM_FORMAT"]
)
if OPENAI_API_FORMAT == "json_format":
    OPENAI_API_FORMAT = "json_object"
OPENAI_API_TIMEOUT = env_float("OPENAI_API_TIMEOUT", 15.0, minimum=0.1)
CLARIFICATION_ENABLED = env_bool("CLARIFICATION_ENABLED", False)
# Vector router: which offline embedding model(s), and when the best agent is accepted
# (defaults fitted on the lmos-router train.csv; a channel can override both in the admin).
ROUTER_EMBEDDING = env_choice("ROUTER_EMBEDDING", "ensemble", ["ensemble", "minilm", "use"])
# Load the embedding models when the web process starts (in a thread), not on the first turn.
ROUTER_PRELOAD = env_bool("ROUTER_PRELOAD", True)
# German queries glossed into English for the vector router (routing/vector/_glossary.py); built by
# `make glossary`. "off": off; a missing file: off, with a log line.
ROUTER_GLOSSARY = env_file("ROUTER_GLOSSARY", str(BASE_DIR / "var" / "glossary" / "de-en.sqlite"))
# MiniLM with its int8 weights kept int8 when it runs (scripts/build_minilm.py, `make
# model`): faster and smaller than the packaged model, which is used when this file is
# missing (with a log line) or the setting is "off".
ROUTER_MINILM_MODEL = env_file("ROUTER_MINILM_MODEL", str(BASE_DIR / "var" / "models" / "minilm-l6-int8.onnx"))
# Unset: each channel's threshold is calibrated at index build against off-topic messages
# (routing/vector/_calibration.py); a number: that relevance threshold for every channel.
ROUTER_VECTOR_THRESHOLD = env_float("ROUTER_VECTOR_THRESHOLD", None, minimum=-1.0, maximum=1.0)
ROUTER_VECTOR_MARGIN = env_float("ROUTER_VECTOR_MARGIN", 0.0, minimum=0.0, maximum=1.0)
# Threads per encoder (onnxruntime intra-op, BLAS); 0: from the cores the process may use
# (cgroup CPU limit, affinity), max(1, (cores - 1) // 2) (routing/vector/_threads.py).
ROUTER_ENCODER_THREADS = env_int("ROUTER_ENCODER_THREADS", 0, minimum=0)
# Most queries encoded in one batch (routing/vector/_batch.py): at 8 or fewer the ensemble's
# two encoders still run side by side.
ROUTER_BATCH_SIZE = env_int("ROUTER_BATCH_SIZE", 8, minimum=1)
# Hybrid router: how many of the vector router's best agents the LLM chooses from when unsure.
ROUTER_HYBRID_CANDIDATES = env_int("ROUTER_HYBRID_CANDIDATES", 3, minimum=2)
# Hybrid router: the vector decision's confidence below which the LLM is asked. At 0.9, about
# a third of the public suites' descriptions-only traffic goes to the LLM and the vector
# router is right on 0.935-0.996 of the rest (bench_routing, RESULTS.md).
ROUTER_HYBRID_CONFIDENCE = env_float("ROUTER_HYBRID_CONFIDENCE", 0.9, minimum=0.0, maximum=1.0)
# Learn examples for the vector router from the queries it routed most confidently (see
# routing/learning.py): off by default, since it keeps user queries in the registry.
ROUTER_LEARN_FROM_TRAFFIC = env_bool("ROUTER_LEARN_FROM_TRAFFIC", False)
ROUTER_LEARN_INTERVAL = env_float("ROUTER_LEARN_INTERVAL", 3600.0, minimum=10.0)
ROUTER_LEARN_MAX_PER_AGENT = env_int("ROUTER_LEARN_MAX_PER_AGENT", 100, minimum=1)

# --- Limits and security --------------------------------------------------------------
REQUIRE_API_KEYS = env_bool("REQUIRE_API_KEYS", False)
RATE_LIMIT_PER_MINUTE = env_int("RATE_LIMIT_PER_MINUTE", None, minimum=1)
MAX_REQUEST_BYTES = env_int("MAX_REQUEST_BYTES", 1024 * 1024, minimum=1024)
MAX_MESSAGES = env_int("MAX_MESSAGES", 200, minimum=1)
MAX_MESSAGE_CHARS = env_int("MAX_MESSAGE_CHARS", 32000, minimum=1)
MAX_INFLIGHT_TURNS = env_int("MAX_INFLIGHT_TURNS", None, minimum=1)
# `python -m lmos_runtime.serve`: seconds a SIGTERM waits for the turns in flight.
SHUTDOWN_GRACE = env_float("SHUTDOWN_GRACE", 30.0, minimum=0.0)
CONVERSATION_RETENTION_DAYS = env_int("CONVERSATION_RETENTION_DAYS", None, minimum=1)
# Django's own body limit must not pre-empt ours (413 is decided by the chat API).
DATA_UPLOAD_MAX_MEMORY_SIZE = max(MAX_REQUEST_BYTES * 2, 2_621_440)

CORS_ENABLED = env_bool("CORS_ENABLED", False)
_cors_origins = env_list("CORS_ALLOWED_ORIGINS", ["*"])
CORS_ALLOWED_ORIGINS_RAW = _cors_origins
if CORS_ENABLED:
    if "*" in _cors_origins:
        CORS_ALLOW_ALL_ORIGINS = True
    else:
        CORS_ALLOWED_ORIGINS = _cors_origins
    CORS_URLS_REGEX = r"^/(lmos/runtime/)?apis/.*$"
    CORS_ALLOW_HEADERS = ["content-type", "authorization", "x-turn-id", "x-subset", "traceparent"]
    CORS_EXPOSE_HEADERS = ["x-agent-name", "x-routing-strategy", "x-routing-confidence", "x-turn-id"]
else:
    CORS_URLS_REGEX = r"^$(?!x)x"  # matches nothing: CORS headers are off

# --- Django REST framework ------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LMOS Runtime API",
    "DESCRIPTION": "Multi-tenant conversation routing for AI agents (LMOS-compatible).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "conversations.schema.constraints_hook",
    ],
    # Swagger UI assets from the installed sidecar package: the docs page works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Celery ---------------------------------------------------------------------------
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# One schedule of periodic jobs: Celery beat sends them to the workers when REDIS_URL is
# set; without it the web process runs them itself on a timer (core/scheduler.py). A job
# is a Celery task, named by its dotted path; a task switched off by its setting (learning,
# retention) returns at once. `every`: seconds, or the name of the setting holding them.
# `at_start`: the embedded timer also runs the job shortly after start-up (a web process
# restarted more often than hourly would otherwise never purge).
SCHEDULE = [
    {
        "name": "sync-agent-registry",
        "task": "agents.tasks.sync_all_tenants",
        "every": "AGENT_SYNC_INTERVAL",
        "expires": True,
        "at_start": True,
    },
    {
        "name": "learn-routing-examples",
        "task": "routing.tasks.learn_from_traffic",
        "every": "ROUTER_LEARN_INTERVAL",
        "expires": True,
        "at_start": False,
    },
    {
        "name": "purge-conversations",
        "task": "conversations.tasks.purge_old_conversations",
        "every": 3600.0,
        "expires": False,
        "at_start": True,
    },
]


def _seconds(every: float | str) -> float:
    return float(globals()[every] if isinstance(every, str) else every)


CELERY_BEAT_SCHEDULE = {
    job["name"]: {
        "task": job["task"],
        "schedule": _seconds(job["every"]),
        # A round still queued when the next is due is dropped, not run twice.
        **({"options": {"expires": _seconds(job["every"])}} if job["expires"] else {}),
    }
    for job in SCHEDULE
}

# --- Static files, i18n ---------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

# --- Logging --------------------------------------------------------------------------
LOG_FORMAT = env_choice("LOG_FORMAT", "text", ["text", "json"])
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"])
# OpenTelemetry traces: core/tracing.py turns them on from these (and the SDK reads its other OTEL_*).
OTEL_EXPORTER_OTLP_ENDPOINT = env_str("OTEL_EXPORTER_OTLP_ENDPOINT", "")
OTEL_TRACES_EXPORTER = env_str("OTEL_TRACES_EXPORTER", "")
OTEL_SERVICE_NAME = env_str("OTEL_SERVICE_NAME", "lmos-runtime")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "core.logging.JsonFormatter"},
    },
    "filters": {"redact": {"()": "core.logging.RedactingFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
    },
}
