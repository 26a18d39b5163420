# The project's two entry points (see README). Both first make sure the build tools that a
# fresh machine lacks are installed into the project: cmake (for libopus, built by the `opus`
# crate) from PyPI into .venv.
VENV := .venv
VENV_CMAKE := $(VENV)/bin/cmake
# The `cmake` crate runs $CMAKE when set.
export CMAKE := $(abspath $(VENV_CMAKE))

.PHONY: demo test tools

# Render the built-in demo end to end into out/demo.
demo: tools
	cargo run --release --example render -- --out out/demo --wav

# The whole test suite.
test: tools
	bash scripts/test.sh

tools: $(VENV_CMAKE)

$(VENV_CMAKE):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check cmake
