# Gateway: the two commands a newcomer needs are `make run` and `make test`.
DOTNET      ?= dotnet
CONFIG      ?= Release
RESULTS     ?= TestResults
PLUGINS_DIR ?= plugins

.PHONY: all build run test bench bench-compare plugins publish clean

all: build

build:
	$(DOTNET) build Gateway.sln -c $(CONFIG) -nologo

# Builds the sample plugins into ./plugins and starts the gateway on the defaults of appsettings.json
# (port 8080, RPC endpoint /ws). Extra settings: make run ARGS="--Gateway:EchoPath=/echo"
run: plugins
	$(DOTNET) run --project src/Gateway.Host -c $(CONFIG) --no-launch-profile -- $(ARGS)

plugins:
	@if [ -d src/Gateway.Samples ]; then \
	  $(DOTNET) publish src/Gateway.Samples -c $(CONFIG) -nologo -o $(PLUGINS_DIR)/Gateway.Samples; fi

# Every test project; results as TRX under $(RESULTS) for .ci/run's summary line.
test:
	rm -rf $(RESULTS)
	$(DOTNET) test Gateway.sln -c $(CONFIG) -nologo --logger "trx" --logger "console;verbosity=minimal" \
	  --results-directory $(RESULTS) --blame-hang-timeout 5m
	@.ci/summarize $(RESULTS)

# BenchmarkDotNet suite (all benchmarks; pass FILTER='*Frame*' to narrow).
bench:
	$(DOTNET) run --project perf/Gateway.Benchmarks -c Release -- --filter '$(or $(FILTER),*)'

# Gateway vs Kestrel and SignalR baselines, same load, servers pinned to core 0 and the load tool to core 1,
# 3 repetitions, medians: writes perf/results/compare.md. Knobs: REPS, DURATION, CONNECTIONS, INFLIGHT, PAYLOAD, IDLE.
bench-compare:
	perf/bench-compare.sh

publish:
	$(DOTNET) publish src/Gateway.Host -c Release -o publish/gateway

clean:
	$(DOTNET) clean Gateway.sln -nologo
	rm -rf $(RESULTS) $(PLUGINS_DIR) publish
