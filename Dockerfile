# Parley's one image: the ASGI web server, the Celery worker and Celery beat all run it
# (see docker-compose.yml). Configuration comes from the environment only (README.md).
FROM python:3.12-slim

# PYTHONPATH=/app: the project runs from its source tree, because templates/ and static/
# live beside the packages and settings find them relative to helpdesk/.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    PARLEY_VAR_DIR=/app/var \
    MEDIA_ROOT=/data/media

RUN groupadd --system --gid 10001 parley \
    && useradd --system --uid 10001 --gid parley --home-dir /app --shell /usr/sbin/nologin parley

WORKDIR /app
COPY . .

# The app may write only to var/ (collected static files, the file mail backend's outbox)
# and to the uploads folder, which docker-compose mounts as a named volume.
RUN pip install . \
    && rm -rf build ./*.egg-info \
    && mkdir -p /app/var /data/media \
    && chown -R parley:parley /app/var /data

USER parley
EXPOSE 8000

CMD ["uvicorn", "helpdesk.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
