# The API's image: gunicorn serving stateset.wsgi (static files by WhiteNoise), also the Celery worker and beat
# (compose.yaml overrides the command). Configuration from the environment (docs/operations.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=stateset.settings \
    BIND=0.0.0.0:8000 \
    LOG_FORMAT=json

WORKDIR /app

COPY . .
# The project and its dependencies; collectstatic with DEBUG off writes the hashed, compressed files that
# WhiteNoise serves. Only var/ (static files, celery beat's schedule) belongs to the unprivileged user.
RUN pip install -e . \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home app \
    && mkdir -p var \
    && python manage.py collectstatic --noinput --verbosity 0 \
    && chown -R app:app var

USER 10001
EXPOSE 8000
ENTRYPOINT ["gunicorn", "-c", "gunicorn.conf.py", "stateset.wsgi"]
