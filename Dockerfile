# syntax=docker/dockerfile:1
# One image for the three services (the command picks the service). Multi-stage, non-root.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
COPY tools ./tools
RUN pip install . && find /opt/venv -name "tests" -type d -prune -exec rm -rf {} +

FROM python:3.11-slim AS runtime
RUN groupadd --system --gid 10001 ddk && useradd --system --uid 10001 --gid ddk --no-create-home ddk
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DDK_HOST=0.0.0.0
USER 10001:10001
EXPOSE 8000
# Override per service, e.g. ["uvicorn", "--factory", "services.funding.app:app", ...]
CMD ["uvicorn", "--factory", "services.signals.app:app", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
