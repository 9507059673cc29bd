# The two commands a new machine needs: `make serve` and `make test`.
# Each creates .venv, installs what is missing (Debian packages as root, pip packages), and runs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint bench system-deps test-deps clean

serve: $(STAMP)
	$(BIN)/mms-renderer serve

test: $(STAMP) test-deps
	$(BIN)/ruff check renderer tests bench templates_svg
	$(BIN)/ruff format --check renderer tests bench templates_svg
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

# libcairo2 is what CairoSVG draws with; fontconfig finds the bundled fonts.
system-deps:
	@if ! ldconfig -p | grep -q 'libcairo.so.2' || ! ldconfig -p | grep -q 'libfontconfig.so.1'; then \
		echo "installing Debian packages: libcairo2 fontconfig"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libcairo2 fontconfig; \
	fi

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
	rm -rf $(VENV) .pytest_cache .ruff_cache
