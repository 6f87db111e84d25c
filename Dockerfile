# syntax=docker/dockerfile:1
# Multi-stage: build the virtual environment, then copy it into a slim image that runs as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /app
COPY requirements.txt requirements-nodeps.txt ./
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir -r requirements.txt \
    && /venv/bin/pip install --no-cache-dir --no-deps -r requirements-nodeps.txt

FROM python:3.11-slim
ARG MODEL_SOURCE=""
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 MT_MODEL_DIR=/app/models/opus-mt-ar-en \
    MT_MEMORY_PATH=/app/data/translation-memory.sqlite3
RUN useradd --system --create-home --uid 10001 app
COPY --from=build /venv /venv
WORKDIR /app
COPY service/ service/
COPY index_config/ index_config/
COPY examples/ examples/
RUN mkdir -p models data && chown -R app:app models data
USER app
# Bake the model in with --build-arg MODEL_SOURCE=<URL or path in the build context>, or mount
# a converted model at /app/models/opus-mt-ar-en at run time.
RUN if [ -n "$MODEL_SOURCE" ]; then python -m service model install --source "$MODEL_SOURCE"; fi
VOLUME ["/app/models", "/app/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
ENTRYPOINT ["python", "-m", "service"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "1", "--threads", "8"]
