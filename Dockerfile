# syntax=docker/dockerfile:1
#
# ONE image for all five services (gateway, enrollment, settlement, pricing, fraud).
#
# Why one image and not five: the services are one codebase installed from one
# pyproject.toml, with one pinned dependency set (requirements.lock) and the shared
# library `common` that every service imports. Five images would be five copies of the
# same bytes that could drift apart in their dependencies; one image is built, scanned and
# promoted once, and the service is chosen at run time by the command:
#
#     docker run ybj/platform:latest enrollment               # migrate, then serve
#     docker run ybj/platform:latest settlement --no-migrate  # serve only
#
# The entrypoint is `python -m common.serve`; CMD is the service name (default: gateway).

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------
# builder: a virtualenv with the pinned dependencies, then the project itself (no deps).
# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv

WORKDIR /src

# Dependencies first, from the lock file only, so this layer stays cached until the lock
# changes.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

# Then the project (pyproject.toml, README.md, libs/, services/; see .dockerignore), without
# dependencies: everything it needs is already pinned above.
COPY . .
RUN pip install --no-cache-dir --no-deps . \
    && python -m compileall -q /opt/venv/lib

# ---------------------------------------------------------------------------------------
# runtime: slim Python, the venv, a non-root user. No compiler, no source tree, no pip cache.
# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="ybj-platform" \
      org.opencontainers.image.description="Medical-insurance bureau back end: gateway, enrollment, settlement, pricing, fraud (one image, service chosen by the command)"

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONFAULTHANDLER=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    APP_ENV=prod \
    LOG_LEVEL=INFO \
    VAR_DIR=/var/lib/ybj

# uid/gid 10001: outside the range of system and typical host users; Kubernetes manifests
# pin runAsUser: 10001 to match.
RUN groupadd --gid 10001 ybj \
    && useradd --uid 10001 --gid 10001 --home-dir /var/lib/ybj \
       --no-create-home --shell /usr/sbin/nologin ybj \
    && mkdir -p /var/lib/ybj \
    && chown 10001:10001 /var/lib/ybj \
    && chmod 0750 /var/lib/ybj

COPY --from=builder /opt/venv /opt/venv

WORKDIR /var/lib/ybj
USER 10001:10001

# gateway 8000, enrollment 8001, settlement 8002, pricing 8003, fraud 8004.
EXPOSE 8000 8001 8002 8003 8004

# No HEALTHCHECK: docker-compose and Kubernetes probe /readyz and /healthz themselves.
ENTRYPOINT ["python", "-m", "common.serve"]
CMD ["gateway"]
