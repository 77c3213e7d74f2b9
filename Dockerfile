FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY rapport rapport
COPY realtime realtime
COPY statecharts statecharts
COPY playground playground
COPY dashboard dashboard
COPY workflows workflows
COPY activities activities
COPY scoring scoring
COPY db db
COPY loadtest loadtest
COPY worker.py worker.py
RUN pip install --no-cache-dir .
ENV RAPPORT_STATE_DIR=/var/lib/rapport
CMD ["rapport", "up", "--host", "0.0.0.0"]
