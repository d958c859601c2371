# syntax=docker/dockerfile:1
# One image for the three services and the console (the command picks which). Multi-stage,
# non-root.
# The console's front-end packages (htmx, NL Design System CSS) from npm, pinned in its
# package.json; only the installed files reach the image, npm does not.
FROM node:20-slim AS console-assets
WORKDIR /assets
COPY services/console/assets/package.json ./
RUN npm install --no-audit --no-fund --no-package-lock --omit=dev

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
COPY --from=console-assets /assets/node_modules /opt/console-assets/node_modules
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DDK_HOST=0.0.0.0 DDK_CONSOLE_ASSETS_DIR=/opt/console-assets/node_modules
USER 10001:10001
EXPOSE 8000
# Override per service, e.g. ["uvicorn", "--factory", "services.funding.app:app", ...]
CMD ["uvicorn", "--factory", "services.signals.app:app", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
