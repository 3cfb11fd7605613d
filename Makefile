# mqttdiag — see README.md. `make run` and `make test` do all set-up.

GO        ?= go
BIN       := bin/mqttdiag
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS   := -s -w -X main.version=$(VERSION)
SAMPLE    := examples/logs/mosquitto-2.0.11.log
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Debian packages the tests drive for real (no mocks), and a C compiler:
# the race detector (go test -race) needs cgo.
# The Paho tests (internal/testutil/systemstest) drive paho-mqtt under
# python3 and build a program on the Paho C library; TEST_FILES are what
# those packages install where no command shows them. rsyslog and systemd
# are the real producers of the syslog and journal envelopes;
# systemd-journal-remote writes the journal directories that journald:
# inputs read (internal/testutil/journaltest).
TEST_PKGS := mosquitto mosquitto-clients prometheus-alertmanager chromium gcc libc6-dev openssl python3-paho-mqtt libpaho-mqtt-dev rsyslog systemd systemd-journal-remote
TEST_CMDS := mosquitto mosquitto_pub mosquitto_sub prometheus-alertmanager chromium gcc openssl python3 rsyslogd journalctl
TEST_FILES := /usr/lib/python3/dist-packages/paho/mqtt/client.py /usr/include/MQTTClient.h /lib/systemd/systemd-journal-remote
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build docs run test test-deps bench bench-deps bench-scan bench-sidecar lint fuzz sample-log fault-log paho-log envelope-captures docker clean

all: build

# The binary is static (no cgo), as the Docker image ships it: it runs
# anywhere, and without libc and its resolver it is 3-4 MB smaller in RSS.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/mqttdiag

## run: the main job — scan the sample log (captured from a real mosquitto) with the built-in pack.
run: build
	./$(BIN) scan $(SAMPLE)

## docs: run the commands of README.md's and docs/*.md's generated blocks again and write their output (a test fails while one is stale).
docs: build
	$(GO) run ./internal/testutil/docgen/cmd/docgen -bin $(dir $(BIN))

## test: install the brokers the tests drive when missing, then every test with the race detector.
## The race build checks the matcher's equivalence on a sample (every 64th or 96th
## line); the plain build after it, many times faster, on every line (corpus: every other one).
## cmd/mqttdiag, the longest package, takes 5.5-7 minutes on a quiet 2-core machine and
## over 9 beside two busy loops (fresh-machine.sh FRESH_LOAD=2): the timeout is a
## safety net for a loaded machine, not the budget.
test: test-deps
	$(GO) vet ./...
	@mkdir -p test-output
	$(GO) test -race -count=1 -timeout 15m -artifacts -outputdir=$(CURDIR)/test-output ./...
	$(GO) test -count=1 -run 'TestEquivalence' ./matcher

# Installs what tests need when it is missing, where apt-get exists.
test-deps:
	@missing=""; for c in $(TEST_CMDS); do \
	  PATH="$$PATH:/usr/sbin:/sbin" command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	for f in $(TEST_FILES); do [ -e $$f ] || missing="$$missing $$f"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "installing test tools (missing:$$missing)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    $(SUDO) apt-get install -y -qq $(TEST_PKGS) >/dev/null || \
	      { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $(TEST_PKGS) >/dev/null; } || exit 1; \
	  else \
	    echo "missing:$$missing and no apt-get: install them, or tests that need them will skip (and fail under CI=true)"; \
	  fi; \
	fi

## bench: benchmarks (figures go to BENCHMARKS.md). The matcher's read
## generated Mosquitto logs of 1M and 15M lines, made on first use in
## $$MQTTDIAG_BENCH_DIR (default: the user cache dir); bench-scan measures the binary.
BENCH_COUNT ?= 5
# The matcher's targets are for one core: pin its benchmarks to CPU 0 (the
# garbage collector included) and run them with GOMAXPROCS=1.
ONE_CORE  := $(shell command -v taskset >/dev/null 2>&1 && echo taskset -c 0)
bench: bench-scan
	$(GO) test -run='^$$' -bench=. -skip=RunBesideBroker -benchmem -count=1 $$($(GO) list ./... | grep -v '/matcher$$')
	$(GO) test -run='^$$' -bench=RunBesideBroker -benchtime=1x -count=$(BENCH_COUNT) ./cmd/mqttdiag
	$(GO) test -c -o bin/matcher.test ./matcher
	cd matcher && $(ONE_CORE) ../bin/matcher.test -test.run='^$$' -test.bench='Scan|New|Naive' -test.benchtime=3x -test.count=$(BENCH_COUNT) -test.cpu=1 -test.benchmem
	cd matcher && $(ONE_CORE) ../bin/matcher.test -test.run='^$$' -test.bench='Burst|UTF8' -test.benchtime=1000000x -test.count=$(BENCH_COUNT) -test.cpu=1 -test.benchmem
	cd matcher && MQTTDIAG_BENCH_LINES=15000000 $(ONE_CORE) ../bin/matcher.test -test.run='^$$' -test.bench='Scan' -test.benchtime=1x -test.count=3 -test.cpu=1 -test.benchmem

## bench-scan: lines/s, peak RSS and start-up of `mqttdiag scan` (GNU time), built-in pack and corpus.
bench-scan: bench-deps
	RUNS=3 scripts/bench-scan.sh 1000000,15000000

## bench-sidecar: CPU (% of a core) and peak RSS of `mqttdiag run` beside `tail -F`, mtail and a minimal Go follower, following one log at 1k and 10k lines/s (issue 17).
SIDECAR_RUNS    ?= 5
SIDECAR_SECONDS ?= 30
bench-sidecar: build bench-deps
	$(GO) run ./internal/testutil/sidecarbench -bin $(BIN) -rates 1000,10000 -seconds $(SIDECAR_SECONDS) -runs $(SIDECAR_RUNS)

# What the benchmarks drive besides Go (Debian packages): GNU time for
# bench-scan, mtail as bench-sidecar's baseline. Not test dependencies.
BENCH_PKGS := time mtail
BENCH_CMDS := /usr/bin/time mtail
bench-deps:
	@missing=""; for c in $(BENCH_CMDS); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing benchmark tools (missing:$$missing)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(SUDO) apt-get install -y -qq $(BENCH_PKGS) >/dev/null || \
	    { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $(BENCH_PKGS) >/dev/null; } || exit 1; \
	fi

## lint: formatting, vet and staticcheck.
lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "run gofmt -w ."; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## fuzz: a short run of every fuzz target.
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=30s ./signatures
	$(GO) test -run='^$$' -fuzz='^FuzzSplit$$' -fuzztime=30s ./internal/brokerlog
	$(GO) test -run='^$$' -fuzz=FuzzSplitSystems -fuzztime=30s ./internal/brokerlog
	$(GO) test -run='^$$' -fuzz=FuzzJSONJoiner -fuzztime=30s ./internal/brokerlog
	$(GO) test -run='^$$' -fuzz=FuzzParseEMQX4 -fuzztime=30s ./internal/brokerlog
	$(GO) test -run='^$$' -fuzz=FuzzLineReader -fuzztime=30s ./tailer
	$(GO) test -run='^$$' -fuzz=FuzzMatch -fuzztime=30s ./matcher
	$(GO) test -run='^$$' -fuzz=FuzzParseRates -fuzztime=30s ./matcher
	$(GO) test -run='^$$' -fuzz=FuzzLoadState -fuzztime=30s ./tailer
	$(GO) test -run='^$$' -fuzz=FuzzJournalEntry -fuzztime=30s ./tailer
	$(GO) test -run='^$$' -fuzz=FuzzJournalCursor -fuzztime=30s ./tailer
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=30s ./internal/brokerconf
	$(GO) test -run='^$$' -fuzz=FuzzConfigFile -fuzztime=30s ./internal/app
	$(GO) test -run='^$$' -fuzz=FuzzPrintable -fuzztime=30s ./sink/report
	$(GO) test -run='^$$' -fuzz=FuzzRead -fuzztime=30s ./internal/catalogue
	$(GO) test -run='^$$' -fuzz=FuzzRenderPrintf -fuzztime=30s ./internal/catalogue
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=30s ./internal/catalogue/cmd/catalogue-mosquitto
	$(GO) test -run='^$$' -fuzz=FuzzDecode -fuzztime=30s ./internal/envelope
	$(GO) test -run='^$$' -fuzz=FuzzJSON -fuzztime=30s ./internal/envelope
	$(GO) test -run='^$$' -fuzz=FuzzPieces -fuzztime=30s ./internal/envelope
	$(GO) test -run='^$$' -fuzz=FuzzParseErlang -fuzztime=30s ./internal/catalogue/cmd/catalogue-emqx
	$(GO) test -run='^$$' -fuzz=FuzzRenderIOLib -fuzztime=30s ./internal/catalogue

## sample-log: capture examples/logs/ again from a real mosquitto.
sample-log: test-deps
	$(GO) test -count=1 -run TestSampleLogScenario ./internal/testutil/brokertest -args -capture=$(CURDIR)/$(SAMPLE)

## fault-log: provoke every fault of the Mosquitto pack on a real mosquitto (two runs each) and capture its output.
fault-log: test-deps
	$(GO) test -count=1 -run TestProvokers ./internal/testutil/packtest -args -capture=$(CURDIR)/examples/logs/mosquitto-2.0.11-faults.log

## paho-log: rerun the Paho scenarios (real paho-mqtt and Paho C clients against a real mosquitto) and capture what the clients logged.
paho-log: test-deps
	$(GO) test -count=1 -run 'TestPaho(Python|C)$$' ./internal/testutil/systemstest -args -capture=$(CURDIR)/examples/logs

## envelope-captures: capture internal/envelope/testdata again from real rsyslogd, journald and mosquitto (needs root).
envelope-captures: test-deps
	$(GO) test -count=1 -run '^TestRealProducers$$' ./internal/envelope -args -capture=$(CURDIR)/internal/envelope/testdata

## docker: the container image (needs a Docker engine; not available on every build machine).
docker:
	docker build --build-arg VERSION=$(VERSION) -t mqttdiag:$(VERSION) -t mqttdiag:latest .

clean:
	rm -rf bin
