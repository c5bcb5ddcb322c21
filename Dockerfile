# The tuner image: `tuner run` / `tuner serve` with the CPU build of torch.
# GPU hosts: see docker-compose.gpu.yml (it swaps in the CUDA wheel index).
FROM python:3.11-slim

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MLFLOW_DISABLE_TELEMETRY=true

WORKDIR /app

# A font that draws Chinese, for the report plots of zh sweeps.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*

# torch first, from its own index, so `pip install .` finds the pin already satisfied
# and never pulls the multi-GB CUDA build from PyPI.
RUN pip install torch==2.13.0 --index-url ${TORCH_INDEX_URL}

COPY pyproject.toml README.md* ./
COPY tuner ./tuner
COPY trainers ./trainers
RUN pip install . && useradd --create-home --uid 1000 tuner \
    && mkdir -p /app/embedding_cache /app/grids /app/datasets \
    && chown -R tuner /app

USER tuner
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=5 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4).status != 200)"
CMD ["tuner", "serve", "--host", "0.0.0.0", "--port", "8080"]
