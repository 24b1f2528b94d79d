# Gateway: the two commands a newcomer needs are `make run` and `make test`.
DOTNET      ?= dotnet
CONFIG      ?= Release
RESULTS     ?= TestResults
PLUGINS_DIR ?= plugins

.PHONY: all build run test bench bench-compare bench-fanout plugins publish clean test-deps describe

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

# The Redis backplane tests start a real redis-server (Debian's package) on a free port: install it when missing.
test-deps:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing redis-server (the Redis backplane tests start one)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server >/dev/null; }
	@# The package starts a system-wide server on 6379; the tests never use it (each starts its own).
	@redis-server --version

# Every test project; results as TRX under $(RESULTS) for .ci/run's summary line.
test: test-deps
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

# Topic fan-out (1 publisher × 16 in flight, 1000 subscribers) against the rpc baseline (echo/echo 50 × 16, 64 B) in one run,
# gateway on core 0 and the load tool on core 1, 3 repetitions, medians: writes perf/results/fanout.md with delivered
# events/s, publish-to-receive p50/p99 and their ratio to echo requests/s (15 s warm-up, 10 s measured; about 4 minutes).
# Knobs: REPS, DURATION, WARMUP, SUBSCRIBERS, PUBLISHERS, PUB_INFLIGHT.
bench-fanout:
	perf/bench-fanout.sh

# The $describe document of the plugins in ./plugins (procedures, kinds, JSON Schemas, summaries, topic patterns) as JSON
# on stdout, without starting the gateway: for generating clients in a build. make describe > describe.json
# Build output goes to stderr, so stdout is the document alone.
describe:
	@$(MAKE) --no-print-directory plugins 1>&2
	@$(DOTNET) build src/Gateway.Host -c $(CONFIG) -nologo -v q 1>&2
	@$(DOTNET) src/Gateway.Host/bin/$(CONFIG)/net10.0/Gateway.Host.dll describe --plugins $(PLUGINS_DIR) $(ARGS)

publish:
	$(DOTNET) publish src/Gateway.Host -c Release -o publish/gateway

clean:
	$(DOTNET) clean Gateway.sln -nologo
	rm -rf $(RESULTS) $(PLUGINS_DIR) publish
