# latgraph: `make demo` and `make test` set everything up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed-stamp
NEO4J_DIR := tools/neo4j-testserver
NEO4J_CP := $(NEO4J_DIR)/target/cp.txt
DEMO_DIR := data/demo

.PHONY: all venv demo test lint chromium neo4j-server spark-connect bench clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[all,dev]"
	touch $(STAMP)

# Optional EVTX accelerator (Rust, tools/evtx-columns): built when cargo is there, else EVTX ingest
# uses the pure-Python path (same results, slower). LATGRAPH_EVTX_NATIVE=0 disables it at run time.
EVTX_NATIVE := tools/evtx-columns
EVTX_NATIVE_STAMP := $(VENV)/.evtx-native-stamp
CARGO := $(shell command -v cargo 2>/dev/null || { test -x "$$HOME/.cargo/bin/cargo" && echo "$$HOME/.cargo/bin/cargo"; })

$(EVTX_NATIVE_STAMP): $(STAMP) $(EVTX_NATIVE)/Cargo.toml $(EVTX_NATIVE)/Cargo.lock $(EVTX_NATIVE)/pyproject.toml $(wildcard $(EVTX_NATIVE)/src/*.rs)
	@if [ -n "$(CARGO)" ]; then \
	  if PATH="$(dir $(CARGO)):$$PATH" $(PIP) install -q ./$(EVTX_NATIVE); then touch $@; \
	  else echo "latgraph: building the EVTX accelerator ($(EVTX_NATIVE)) failed; EVTX ingest uses the pure-Python path"; fi; \
	else echo "latgraph: cargo not found: the optional EVTX accelerator ($(EVTX_NATIVE)) is not built;" \
	  "EVTX ingest uses the pure-Python path (same results, slower; Rust from https://rustup.rs builds it)"; fi

venv: $(STAMP) $(EVTX_NATIVE_STAMP)

# Debian's chromium for the browser tests (no browser download: Playwright drives the system one).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }

# A real Neo4j 5.26 for the tests, from Maven Central (org.neo4j.test:neo4j-harness).
neo4j-server: $(NEO4J_CP)

$(NEO4J_CP): $(NEO4J_DIR)/pom.xml $(wildcard $(NEO4J_DIR)/src/main/java/latgraph/*.java)
	mvn -q -B -f $(NEO4J_DIR)/pom.xml package dependency:build-classpath -Dmdep.outputFile=target/cp.txt

# The Spark Connect server for the tests (tests/spark/cluster.py): pyspark 4.x ships it in its jars/;
# for pyspark 3.5 the org.apache.spark:spark-connect_2.12 jar of the same version comes from Maven Central.
SPARK_CONNECT_DIR := tools/spark-connect/target

spark-connect: venv
	@ver=$$($(PY) -c 'import pyspark; print(pyspark.__version__)'); \
	jars=$$($(PY) -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))'); \
	if ls "$$jars"/spark-connect_*.jar >/dev/null 2>&1; then echo "spark-connect: shipped with pyspark $$ver"; \
	elif ls $(SPARK_CONNECT_DIR)/spark-connect_*-$$ver.jar >/dev/null 2>&1; then :; \
	else scala=$$(ls "$$jars"/spark-core_*.jar | sed -E 's/.*spark-core_([0-9.]+)-.*/\1/'); \
	  mvn -q -B dependency:copy -Dartifact=org.apache.spark:spark-connect_$$scala:$$ver \
	    -DoutputDirectory=$(SPARK_CONNECT_DIR); fi

demo: venv
	$(VENV)/bin/latgraph simulate --seed 7 --out $(DEMO_DIR)
	$(VENV)/bin/latgraph analyze $(DEMO_DIR)/events --json $(DEMO_DIR)/result.json
	@if [ -t 1 ] && [ -z "$(NO_UI)" ]; then $(VENV)/bin/latgraph ui $(DEMO_DIR)/events; \
	else echo "UI: $(VENV)/bin/latgraph ui $(DEMO_DIR)/events   (make demo starts it on a terminal; NO_UI=1 skips)"; fi

test: venv chromium neo4j-server spark-connect
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -ra

lint: venv
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) $(NEO4J_DIR)/target $(SPARK_CONNECT_DIR) .pytest_cache
