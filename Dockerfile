# One image for every wallboard process (collector, engine, api); the compose file picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY wallboard ./wallboard
COPY collectors ./collectors
COPY dash_app ./dash_app
# The exact versions of uv.lock (the ones CI tested), then the project itself without resolving again.
RUN UV_VERSION=$(sed -n '/^name = "uv"$/{n;s/^version = "\(.*\)"$/\1/p;q}' uv.lock) \
 && pip install "uv==${UV_VERSION}" \
 && uv export --frozen --no-dev --no-emit-project --no-hashes -o /tmp/requirements.txt \
 && uv pip install --system --no-cache -r /tmp/requirements.txt \
 && pip uninstall -y uv && rm /tmp/requirements.txt
RUN pip install --no-deps . && useradd --system --uid 10001 --no-create-home wallboard

USER wallboard
ENTRYPOINT ["wallboard"]
CMD ["--help"]
