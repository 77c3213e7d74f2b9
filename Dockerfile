FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake && rm -rf /var/lib/apt/lists/*
# llama.cpp's default build tunes itself to the build machine's CPU (-march=native); an image runs
# on other machines, so name a baseline every x86-64 server since 2013 has.
ENV CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
# One copy of the build context (.dockerignore keeps out venvs, state and git), installed as the
# package declares itself: the image holds exactly what the wheel does (tests/test_packaging.py).
COPY . /src
RUN pip install --no-cache-dir /src && rm -rf /src
WORKDIR /var/lib/rapport
ENV RAPPORT_STATE_DIR=/var/lib/rapport
CMD ["rapport", "up", "--host", "0.0.0.0"]
