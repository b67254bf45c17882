# Production image: the API (default command) and the worker (`portal worker`) share it.
# PostgreSQL and Redis are separate services (see docker-compose.yml); `portal run` is for development.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORTAL_ENV=production \
    PORTAL_HOST=0.0.0.0 \
    PORTAL_PORT=8000

RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin portal

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Listed one by one to keep local state (.venv, .data, .git) out of the image; add new packages here.
COPY alembic.ini ./
COPY api ./api
COPY cli ./cli
COPY community ./community
COPY content ./content
COPY core ./core
COPY loyalty ./loyalty
COPY migrations ./migrations
COPY patients ./patients
COPY workers ./workers
# Editable, so paths relative to the source tree (alembic.ini, migrations/) resolve as in development.
RUN pip install --no-deps -e . && python -m compileall -q api cli community content core loyalty patients workers

USER portal
EXPOSE 8000
CMD ["portal", "serve"]
