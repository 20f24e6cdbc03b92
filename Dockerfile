# Serves the app on port 7860 (or $PORT, as Cloud Run sets it) with the bundled models, or with the
# hub's versions: `docker run -e HANDWRITING_MODEL_REPO=team/handwriting-models [-e HANDWRITING_MODEL_REVISION=digits-v1.0.1]`.
# The hub cache lives in the /data volume, so a restart without network serves what was downloaded.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_ANALYTICS_ENABLED=False \
    HF_HUB_DISABLE_TELEMETRY=1 \
    HANDWRITING_STORE_DIR=/data \
    HF_HOME=/data/huggingface

WORKDIR /app
# Serving only: requirements.txt has no TensorFlow (the models serve from model.tflite in LiteRT);
# training installs requirements-train.txt. tests/test_serving_install.py checks both lists below.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY app.py ./
COPY handwriting ./handwriting
COPY ui ./ui
COPY examples/*.jpg ./examples/
COPY models ./models

RUN useradd --create-home app && mkdir -p /data && chown app /data
USER app
VOLUME ["/data"]
EXPOSE 7860
CMD ["python", "app.py"]
