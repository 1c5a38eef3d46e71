# One image for every wallboard process (collector, engine, api); the compose file picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY wallboard ./wallboard
COPY collectors ./collectors
COPY dash_app ./dash_app
RUN pip install . && useradd --system --uid 10001 --no-create-home wallboard

USER wallboard
ENTRYPOINT ["wallboard"]
CMD ["--help"]
