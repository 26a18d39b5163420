# The project's two entry points (see README). Both first make sure the tools that a fresh
# machine lacks are installed into the project's .venv from PyPI (requirements-dev.txt): cmake
# (for libopus, built by the `opus` crate), maturin (builds the Python module), and numpy,
# pytest, fastapi, uvicorn and httpx for the Python tests and the example server.
VENV := .venv
STAMP := $(VENV)/.installed
# The `cmake` crate runs $CMAKE when set.
export CMAKE := $(abspath $(VENV)/bin/cmake)

.PHONY: demo test tools

# Render the built-in demo end to end into out/demo.
demo: tools
	cargo run --release --example render -- --out out/demo --wav

# The whole test suite.
test: tools
	bash scripts/test.sh

tools: $(STAMP)

$(STAMP): requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)
