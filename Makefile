# The project's two entry points (see README). Both first make sure the tools that a fresh
# machine lacks are installed into the project's .venv from PyPI (requirements-dev.txt): cmake
# (for libopus, built by the `opus` crate), maturin (builds the Python module), and numpy,
# pytest, fastapi, uvicorn and httpx for the Python tests and the example server.
VENV := .venv
STAMP := $(VENV)/.installed
# The `cmake` crate runs $CMAKE when set.
export CMAKE := $(abspath $(VENV)/bin/cmake)

.PHONY: demo test tools install

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

# Installs the C library into PREFIX (default /usr/local; DESTDIR is honoured):
#   lib/libauralis.so.VERSION with the soname link libauralis.so.SOVERSION and libauralis.so,
#   lib/libauralis.a, include/auralis/auralis.h and auralis.hpp (the C++ wrapper),
#   lib/pkgconfig/auralis.pc and lib/cmake/auralis/ (find_package(auralis CONFIG)); the
#   libraries without their debug info.
# SOVERSION is the major version, or 0.MINOR while the major version is 0.
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR := $(word 1,$(subst ., ,$(VERSION)))
MINOR := $(word 2,$(subst ., ,$(VERSION)))
SOVERSION := $(if $(filter 0,$(MAJOR)),0.$(MINOR),$(MAJOR))
# The release profile keeps debug info (for profiling); what is installed has it stripped.
STRIP ?= strip
SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	-e 's|@MAJOR@|$(MAJOR)|g' -e 's|@MINOR@|$(MINOR)|g' -e 's|@SOVERSION@|$(SOVERSION)|g'

install: tools
	cargo build --release -p auralis-ffi --lib
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(LIBDIR)/cmake/auralis \
		$(DESTDIR)$(INCLUDEDIR)/auralis
	install -m 755 target/release/libauralis.so $(DESTDIR)$(LIBDIR)/libauralis.so.$(VERSION)
	$(STRIP) --strip-debug $(DESTDIR)$(LIBDIR)/libauralis.so.$(VERSION)
	ln -sf libauralis.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libauralis.so.$(SOVERSION)
	ln -sf libauralis.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libauralis.so
	install -m 644 target/release/libauralis.a $(DESTDIR)$(LIBDIR)/libauralis.a
	$(STRIP) --strip-debug $(DESTDIR)$(LIBDIR)/libauralis.a
	install -m 644 include/auralis.h include/auralis.hpp $(DESTDIR)$(INCLUDEDIR)/auralis/
	$(SUBST) auralis-ffi/install/auralis.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/auralis.pc
	$(SUBST) auralis-ffi/install/auralisConfig.cmake.in \
		> $(DESTDIR)$(LIBDIR)/cmake/auralis/auralisConfig.cmake
	$(SUBST) auralis-ffi/install/auralisConfigVersion.cmake.in \
		> $(DESTDIR)$(LIBDIR)/cmake/auralis/auralisConfigVersion.cmake
