# The tutor server image: the app, its Python dependencies and the bundled embedding model.
# The local llama.cpp LLM is not in it (it needs a C toolchain and 1 GB of weights): deployments
# point OPENAI_API_KEY / OPENAI_API_BASE at OpenAI or at an OpenAI-compatible server (vLLM, a
# llama.cpp server of its own).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HOST=0.0.0.0 PORT=8000 DATA_DIR=/var/lib/tutor COURSES_DIR=/srv/courses

RUN useradd --system --uid 10001 --home-dir /var/lib/tutor tutor \
    && mkdir -p /var/lib/tutor /srv/courses && chown tutor /var/lib/tutor

WORKDIR /srv/tutor
COPY pyproject.toml README.md ./
COPY app ./app
COPY ingest ./ingest
COPY ops ./ops
COPY indexes ./indexes
# Optional extras, e.g. `docker build --build-arg EXTRAS=otel .` for OpenTelemetry tracing.
ARG EXTRAS=
RUN pip install --no-compile ".${EXTRAS:+[$EXTRAS]}"

USER tutor
EXPOSE 8000
# SIGTERM stops accepting connections and gives answers SHUTDOWN_GRACE_SECONDS to finish.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"
CMD ["tutor-serve"]
