# Minimal image for the translation CLI; the service issue makes it multi-stage, non-root, with gunicorn.
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY service/ service/
COPY examples/ examples/
# Mount a model at /app/models/opus-mt-ar-en, or install one: docker run IMAGE model install
VOLUME ["/app/models", "/app/data"]
ENTRYPOINT ["python", "-m", "service"]
CMD ["--help"]
