# One image for the Locust master, the workers and the in-cluster runner (`isvcperf k launch`).
# Build: make image (tags docker.io/library/isvcperf:<package version>, the spec's default kubernetes.image).
FROM python:3.12.7-slim-bookworm

# Non-root, with the UID the pods run as by default (kubernetes.runAsUser in isvcperf/spec/model.py).
RUN groupadd --gid 10001 isvcperf && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin isvcperf

WORKDIR /src
COPY pyproject.toml README.md ./
COPY isvcperf ./isvcperf
COPY locustfiles ./locustfiles
COPY k8s ./k8s
# The package carries its locustfiles (locustfiles/, installed as isvcperf.locustfiles) and pod templates (k8s/, as isvcperf.k8s).
RUN pip install --no-cache-dir . && rm -rf /src

# Pods run with a read-only root filesystem: scratch, HOME and TMPDIR are an emptyDir there.
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 HOME=/scratch TMPDIR=/scratch
# Owned by the pods' user, so the image also works where no emptyDir is mounted there.
RUN mkdir -p /scratch && chown 10001:10001 /scratch
WORKDIR /scratch
USER 10001:10001
ENTRYPOINT ["python"]
CMD ["-m", "isvcperf", "--help"]
