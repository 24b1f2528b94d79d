# Gateway: the two commands a newcomer needs are `make run` and `make test`.
DOTNET      ?= dotnet
CONFIG      ?= Release
RESULTS     ?= TestResults
PLUGINS_DIR ?= plugins

.PHONY: all build run test bench bench-compare bench-fanout plugins publish clean test-deps test-node test-js test-js-deps demo client-types client-types-sample token describe

all: build

build:
	$(DOTNET) build Gateway.sln -c $(CONFIG) -nologo

# Builds the sample plugins into ./plugins and starts the gateway on the defaults of appsettings.json
# (port 8080, RPC endpoint /ws), serving the demo page at http://localhost:8080/ (needs node and npm). Extra settings: make run ARGS="--Gateway:EchoPath=/echo"
run: plugins demo
	$(DOTNET) run --project src/Gateway.Host -c $(CONFIG) --no-launch-profile -- --Gateway:StaticFiles:Path=clients/demo/build $(ARGS)

# Prints an HS256 token for config/appsettings.Auth.example.json's development secret (README: "Turning on
# authentication"): make token USER=ada ROLES=admin [MINUTES=60] [AUTH_CONFIG=that file].
AUTH_CONFIG ?= config/appsettings.Auth.example.json
token:
	@$(DOTNET) build tools/Gateway.Token -c $(CONFIG) -nologo -v q >/dev/null
	@$(DOTNET) tools/Gateway.Token/bin/$(CONFIG)/net10.0/Gateway.Token.dll --config $(AUTH_CONFIG) --user "$(USER)" \
	  $(if $(ROLES),--roles "$(ROLES)") $(if $(MINUTES),--minutes $(MINUTES))

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
	@# The Node interop suites (tests/interop/*) run on node:test with npm packages (ws, @msgpack/msgpack).
	@{ command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; } || { \
	  echo "installing nodejs and npm (the Node interop suites)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm >/dev/null; }
	@node --version
	@# The load-balancer tests (tests/Gateway.Deployment.Tests) run Debian's haproxy with docker/haproxy.cfg.
	@command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || { \
	  echo "installing haproxy (the load-balancer tests run docker/haproxy.cfg with it)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq haproxy >/dev/null; }
	@# The deployment-file tests read docker/*.yaml with python3's yaml module (.NET has no YAML parser).
	@python3 -c 'import yaml' 2>/dev/null || { \
	  echo "installing python3-yaml (the deployment-file tests read docker/*.yaml with it)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq python3-yaml >/dev/null; }

# Every test project; results as TRX under $(RESULTS) for .ci/run's summary line.
test: test-deps
	rm -rf $(RESULTS)
	@rc=0; $(DOTNET) test Gateway.sln -c $(CONFIG) -nologo --logger "trx" --logger "console;verbosity=minimal" \
	  --results-directory $(RESULTS) --blame-hang-timeout 5m || rc=1; \
	  $(MAKE) --no-print-directory test-node || rc=1; \
	  $(MAKE) --no-print-directory test-js || rc=1; \
	  .ci/summarize $(RESULTS); exit $$rc

# Node interop suites against the published host and the sample plugins: node:test writes JUnit XML under
# $(RESULTS) (*.junit.xml), which .ci/summarize counts with the TRX files.
# A suite that could not run at all (npm ci failed, node crashed) leaves one failed testcase, so the summary shows it.
test-node: publish plugins
	mkdir -p $(RESULTS)
	@junit=$(abspath $(RESULTS))/node-msgpack.junit.xml; \
	  ( cd tests/interop/msgpack && npm ci --no-audit --no-fund --loglevel=error && \
	    node --test --test-reporter=spec --test-reporter-destination=stdout \
	      --test-reporter=junit --test-reporter-destination=$$junit ) || \
	  { [ -s $$junit ] || echo '<testsuites><testcase name="tests/interop/msgpack did not run"><failure/></testcase></testsuites>' > $$junit; exit 1; }

# BenchmarkDotNet suite (all benchmarks; pass FILTER='*Frame*' to narrow).
bench:
	$(DOTNET) run --project perf/Gateway.Benchmarks -c Release -- --filter '$(or $(FILTER),*)'

# Every scenario of issue 16 (small RPC 50×16, many clients 5,000×1, streams, 1 MiB echo, fan-out to 1,000, 10,000 idle)
# against gateway, gateway-msgpack, kestrel (the tuned baseline), kestrel-naive and signalr: a fresh server per run on
# core 0, the load tool on core 1, 15 s warm-up + 10 s measured, 3 interleaved repetitions, medians and ratios to the
# tuned baseline in perf/results/compare.md. About 65 minutes (87 runs). Knobs: REPS, DURATION, WARMUP, CASES, SERVERS,
# MANY, IDLE, SUBSCRIBERS, ... (perf/README.md). A quick check: make bench-compare REPS=1 DURATION=2s WARMUP=1s
# Issue 17, permessage-deflate compressed vs not (1 KiB chat text rpc, fan-out to 1,000, idle): make bench-compare CASES=compressed
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

# ---- The JavaScript client (clients/js) and the demo (clients/demo) ----
JS_DIR   ?= clients/js
CHROMIUM ?= /usr/bin/chromium

# Node and npm run the client's suites; Debian's chromium runs the browser tests (playwright-core drives it, no download).
test-js-deps:
	@missing=""; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	[ -x $(CHROMIUM) ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing (the JavaScript client's tests)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; fi
	@node --version
	cd $(JS_DIR) && npm ci --no-audit --no-fund --loglevel=error

# The demo page with the client package, in clients/demo/build (what `make run` serves).
demo:
	@[ -d $(JS_DIR)/node_modules ] || (cd $(JS_DIR) && npm ci --no-audit --no-fund --loglevel=error)
	cd $(JS_DIR) && npm run --silent build:demo

# node:test suites of the client against the published gateway with the sample plugins, and the demo in headless
# chromium; JUnit XML under $(RESULTS) for .ci/summarize, screenshots of failed browser tests under $(RESULTS)/js-screenshots.
test-js: publish plugins
	@mkdir -p $(RESULTS)
	@junit=$(abspath $(RESULTS))/js-client.junit.xml; \
	  ( $(MAKE) --no-print-directory test-js-deps && cd $(JS_DIR) && npm run --silent build:demo && \
	    CHROMIUM_PATH=$(CHROMIUM) TEST_OUTPUT_DIR=$(abspath $(RESULTS))/js-screenshots \
	    node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
	      --test-reporter=junit --test-reporter-destination=$$junit test/*.test.mjs ) || \
	  { [ -s $$junit ] || echo '<testsuites><testcase name="clients/js did not run"><failure/></testcase></testsuites>' > $$junit; exit 1; }

# The typed API: a TypeScript module with one function per procedure, generated from $describe's JSON Schemas
# (clients/js/codegen/generate.mjs, types by json-schema-to-typescript). URL=ws://host:port/ws reads a running gateway;
# without it the published host is started with the plugins in $(PLUGINS_DIR). CLIENT_TYPES_OUT= the module to write.
CLIENT_TYPES_OUT ?= clients/js/generated/gateway-api.ts
IMPORT_FROM      ?= @gateway/client
client-types: $(if $(URL),,publish plugins)
	@[ -d $(JS_DIR)/node_modules ] || (cd $(JS_DIR) && npm ci --no-audit --no-fund --loglevel=error)
	cd $(JS_DIR) && npm run --silent build
	@mkdir -p $(dir $(abspath $(CLIENT_TYPES_OUT)))
	cd $(JS_DIR) && node codegen/generate.mjs $(if $(URL),--url $(URL),--start --plugins $(abspath $(PLUGINS_DIR))) \
	  --import-from $(IMPORT_FROM) --out $(abspath $(CLIENT_TYPES_OUT))

# The sample plugin's typed API, checked in as clients/js/generated/sample-api.ts (a test fails when it is stale).
client-types-sample:
	$(MAKE) --no-print-directory client-types CLIENT_TYPES_OUT=$(JS_DIR)/generated/sample-api.ts IMPORT_FROM=../src/index.js
