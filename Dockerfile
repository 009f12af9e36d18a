# The production image, shared by the bootstrap job, the API and the worker (docker-compose.yml picks the
# `compliance` subcommand). Python dependencies come only from the hashed lock file (requirements.lock, made by
# `make lock`); the development binaries (embedded PostgreSQL, the Temporal dev server, test tools) are not in it.

# The console, built with the versions its lockfile pins.
FROM node:20.19-bookworm-slim AS console
WORKDIR /console
COPY console/package.json console/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY console/ ./
RUN npm run build

FROM python:3.12-slim AS app

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

WORKDIR /app

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

# Dependencies first, so a code change does not reinstall them; every file is checked against its hash.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock

COPY pyproject.toml config.py worker.py alembic.ini ./
COPY api/ api/
COPY workflows/ workflows/
COPY activities/ activities/
COPY orchestration/ orchestration/
COPY services/ services/
COPY observability/ observability/
COPY models/ models/
COPY domain/ domain/
COPY agent/ agent/
COPY stack/ stack/
COPY migrations/ migrations/
COPY content/ content/
COPY --from=console /console/dist/ console/dist/
# The project itself (its `compliance` command), without dependencies: they are all in the lock above.
RUN pip install --no-deps . && rm -rf build ./*.egg-info

USER 10001:10001

EXPOSE 8000
CMD ["compliance", "api"]
