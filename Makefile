# ControlPlane — `make help` lists the targets.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
SLN := ControlPlane.sln

.PHONY: help build run test bench replay clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

build: ## Build everything (warnings are errors)
	$(DOTNET) build $(SLN) -c $(CONFIG) -v quiet -nologo

run: ## Start the control plane on its embedded default at http://localhost:8080 (the worker host with the control role: everything in one process)
	$(DOTNET) run --project src/ControlPlane.Worker -c $(CONFIG)

test: ## Run all tests (needs redis-server, gcc, patchelf, npm and chromium; .ci/run installs them)
	build/fetch-helm.sh
	@mkdir -p artifacts
	@# The whole log goes to artifacts/test.log; a failure ends with the failed tests, so the tail of the output names them.
	@# One test project at a time (-m:1): the multi-process fault tests time streams, and must not share two cores with
	@# libtorch or headless Chromium running in another project's tests.
	set -o pipefail; $(DOTNET) test $(SLN) -c $(CONFIG) -nologo -m:1 --logger "console;verbosity=normal" -- RunConfiguration.TestSessionTimeout=1200000 2>&1 \
	  | tee artifacts/test.log || { echo; echo "==== failed tests (whole log: artifacts/test.log) ===="; \
	  grep -E -A30 '^\s+Failed [A-Za-z]|Test Run Aborted|host process crashed|: error [A-Z]+[0-9]+' artifacts/test.log | cut -c1-400 | head -200; exit 1; }

bench: ## Run the benchmarks and print the figures for docs/benchmarks.md
	$(DOTNET) run --project tests/ControlPlane.Benchmarks -c Release -- all
	loadgen/bench-send-lag.sh

ENDPOINT ?= http://localhost:8080
replay: ## Replay a bundled Azure trace slice against the `make run` server and print the report
	@curl -sf $(ENDPOINT)/readyz >/dev/null || { echo "no ready server at $(ENDPOINT): start it with 'make run' in another terminal"; exit 1; }
	$(DOTNET) run --project loadgen/ControlPlane.LoadGen -c $(CONFIG) -- replay --endpoint $(ENDPOINT) \
	  --trace loadgen/traces/azure-llm-2023/AzureLLMInferenceTrace_conv.csv --max-requests 300 --speedup 10 \
	  --slo-ttft-ms 1000 --slo-tpot-ms 100 --out artifacts/replay

clean: ## Remove build outputs
	$(DOTNET) clean $(SLN) -v quiet -nologo
