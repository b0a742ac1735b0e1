# codeproof — the two commands: `make demo` and `make test`.
# Everything a fresh clone needs is installed from here (PyPI + Debian packages).

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
EXTRAS := dev,service,postgres,queue,dense,synthetic,llm,pdf,ray
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: all setup demo test test-fast bench lint docs clean browser-deps reference

all: test

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	@touch $(STAMP)

setup: $(STAMP)

# Compiled reference data (ICD-10-CM FY2026, ICD-10-PCS, ICD-11 titles) under .codeproof/reference
# Built once; rebuilt when absent, or when the WHO ICD-11 tables sit in ../shared but the
# store was compiled without them (ICD-11 dual coding needs user-supplied WHO files).
ICD11_DIR := $(wildcard ../shared/data/icd11)
reference: $(STAMP)
	@v=$$($(BIN)/codeproof terminology versions 2>/dev/null) || v=""; \
	if [ -z "$$v" ] || { [ -n "$(ICD11_DIR)" ] && echo "$$v" | grep -q "icd11.map: absent"; }; then \
	  $(BIN)/codeproof terminology build $(if $(ICD11_DIR),--icd11-dir $(ICD11_DIR)); \
	else echo "reference data up to date"; fi

# Debian's chromium for the browser tests (skipped with a reason when this fails), and
# HarfBuzz-Subset for WeasyPrint's PDF font subsetting (PDFs are written without it too).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	  >/dev/null 2>&1 || echo "note: chromium not installed; browser tests will skip"; }
	@ldconfig -p 2>/dev/null | grep -q libharfbuzz-subset || { \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libharfbuzz-subset0) \
	  >/dev/null 2>&1 || echo "note: libharfbuzz-subset0 not installed (PDF fonts not subset)"; }

demo: $(STAMP) reference
	rm -rf out/demo
	$(BIN)/codeproof code examples/ --out out/demo
	@echo "packages written to out/demo/ (open the .html files in a browser)"

test: $(STAMP) reference browser-deps
	$(BIN)/pytest -q -p no:cacheprovider

test-fast: $(STAMP)
	$(BIN)/pytest -q -x -m "not slow" -p no:cacheprovider

bench: $(STAMP) reference
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(PY) tools/gen_reference.py --check

clean:
	rm -rf out .codeproof .pytest_cache .mypy_cache .ruff_cache

docs: $(STAMP)
	$(PY) tools/gen_reference.py
