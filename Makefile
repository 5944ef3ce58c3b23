# Developer entry points. Everything runs from the project's own .venv, so the demo and the
# tests use exactly the versions pinned in pyproject.toml, not whatever is on PATH.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv demo serve test lint protos image clean

venv: $(VENV)/.installed

# The stamp makes `make venv` a no-op until pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	touch $@

# The example end to end: a local MLServer with the iris model, local Locust processes.
demo: venv
	$(BIN)/python examples/iris_server.py --workdir .demo -- \
		$(BIN)/isvcperf run examples/sklearn-irisv2.yaml --set target.url={url} --out .demo/results

# The demo's model server on 127.0.0.1:8080 (the examples' URL) until Ctrl-C, for your own commands.
serve: venv
	$(BIN)/python examples/iris_server.py --workdir .demo --serve

# Lint first: it takes a second and catches what would otherwise fail minutes into the tests.
# The system packages the tests use (chromium, nginx + echo module) are installed when absent;
# then one pytest per group, with a table of wall times at the end (make test GROUPS="unit faults").
GROUPS ?= unit integration kubernetes faults security generative observability soak
test: lint
	tests/system-deps.sh
	PYTHON=$(BIN)/python tests/generative/build_llama_server.sh
	$(BIN)/python tests/groups.py $(GROUPS)

lint: venv
	$(BIN)/ruff check .

# Regenerate the committed gRPC modules after editing isvcperf/grpc_v2/grpc_predict_v2.proto
# (grpcio-tools is pinned in the test extra, so the output is the same on every machine).
PROTO := isvcperf/grpc_v2/grpc_predict_v2.proto
REMOTE_WRITE_PROTO := isvcperf/outputs/prometheus_remote.proto
protos: venv
	$(BIN)/python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. --grpc_python_out=. $(PROTO)
	$(BIN)/python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. $(REMOTE_WRITE_PROTO)

# The image of the Locust pods and the in-cluster runner; its tag is the spec's default
# kubernetes.image (docker.io/library/isvcperf:<package version>: docker tags an unqualified name so). On kind: kind load docker-image isvcperf:VERSION.
IMAGE_TAG := docker.io/library/isvcperf:$(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' isvcperf/__init__.py)
image:
	@if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then \
		docker build -t $(IMAGE_TAG) . ; \
	else \
		echo "make image: skipped, no Docker engine here (docker build -t $(IMAGE_TAG) . where there is one)"; \
	fi

clean:
	rm -rf $(VENV) .demo isvcperf-results build *.egg-info .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
