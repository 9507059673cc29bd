# The two commands a new machine needs: `make serve` and `make test`.
# Each creates .venv, installs what is missing (Debian packages as root, pip packages), and runs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FONTS := fonts/.fetched

.PHONY: serve test lint bench bench-deps system-deps test-deps clean

serve: $(STAMP) $(FONTS)
	$(BIN)/mms-renderer serve

test: $(STAMP) $(FONTS) test-deps
	$(BIN)/ruff check renderer tests bench templates_svg
	$(BIN)/ruff format --check renderer tests bench templates_svg
	$(BIN)/pytest -q

bench: $(STAMP) $(FONTS) bench-deps
	$(BIN)/python -m bench

# What the benchmark measures against, not what the service needs: wrk (the cache-hit load
# generator; without it the bench's own asyncio client, which is slower than the servers) and
# the JPEG encoders scenario 13 compares (jpegli, mozjpeg's lossless pass).
bench-deps: system-deps
	@if ! command -v wrk >/dev/null; then \
		echo "installing Debian package: wrk"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
	fi
	$(BIN)/python -m pip install -q 'pyjpegli>=0.3.2' 'mozjpeg-lossless-optimization>=1.3.2'

# libcairo2 is what CairoSVG draws with; fontconfig finds the bundled fonts; libfribidi0 is
# the Unicode bidirectional algorithm the text engine orders right-to-left text with.
system-deps:
	@if ! ldconfig -p | grep -q 'libcairo.so.2' || ! ldconfig -p | grep -q 'libfontconfig.so.1' \
			|| ! ldconfig -p | grep -q 'libfribidi.so.0'; then \
		echo "installing Debian packages: libcairo2 fontconfig libfribidi0"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			libcairo2 fontconfig libfribidi0; \
	fi

# The fonts: pinned Debian packages, unpacked into fonts/ and checked against fonts/fonts.toml.
$(FONTS): fonts/fonts.toml fonts/fetch.py
	$(PYTHON) fonts/fetch.py
	touch $@

# The studio's browser test drives Debian's Chromium (no browser download: Playwright is told
# where it is).
test-deps: system-deps
	@if ! command -v chromium >/dev/null; then \
		echo "installing Debian package: chromium"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

$(STAMP): pyproject.toml | system-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache $(FONTS)
