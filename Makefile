# One-command entry points. The real build is CMake (CMakePresets.json); this file only
# strings the steps together: install missing packages, configure once, build, then act.

# ccache keys on paths relative to the checkout, so a fresh clone elsewhere (CI) reuses what
# earlier builds compiled.
export CCACHE_BASEDIR   := $(CURDIR)
export CCACHE_NOHASHDIR := 1

ROCKD_LISTEN   ?= 127.0.0.1:8080
ROCKD_DATA_DIR ?= $(CURDIR)/.rockd
# Extra arguments for ctest, e.g. make test CTEST_ARGS='-R Healthz'.
CTEST_ARGS     ?=
BENCH          ?=

.DEFAULT_GOAL := build
.PHONY: deps build build-asan run test test-asan bench install clean

deps:
	@scripts/install-deps.sh

# $(call cmake_build,PRESET,BINARY_DIR): configure only when the tree has never been
# configured (CMake reconfigures by itself when a CMakeLists.txt changes), then build.
define cmake_build
	@test -f $(2)/build.ninja || cmake --preset $(1)
	cmake --build --preset $(1)
endef

build: deps
	$(call cmake_build,default,build)

build-asan: deps
	$(call cmake_build,asan,build-asan)

# rockd runs in the foreground (exec), so Ctrl-C reaches it directly and it drains and exits.
# A detached watcher (not rockd's child) prints the URL once rockd has written its port, then
# runs rock-trainer against it (learning ALFWorld, checkpoints under the data dir, so a second
# `make run` goes on where the first stopped) until rockd exits.
ROCK_TRAINER_ARGS ?= --env alfworld --task-types pick_and_place_simple --max-steps 30 --algo grpo \
                     --lr 0.003 --reward won --curriculum 4 --imitation 10 --ppo-epochs 1 --schedule-steps 2500 --temperature 0.05 \
                     --dim 32 --layers 2 --heads 2 --kv-heads 1 --hidden 64 --prompt-bytes 240 --history 3 --match-slots 8 \
                     --group-size 4 --batch-groups 1
run: build
	@mkdir -p '$(ROCKD_DATA_DIR)'; \
	listen='$(ROCKD_LISTEN)'; port_file='$(ROCKD_DATA_DIR)/rockd.port'; \
	rm -f "$$port_file"; \
	( ( while [ ! -s "$$port_file" ]; do kill -0 $$$$ 2>/dev/null || exit 0; sleep 0.1; done; \
	    port=$$(cat "$$port_file"); \
	    echo "rockd dashboard: http://$${listen%:*}:$$port/  (rock-trainer log: $(ROCKD_DATA_DIR)/rock-trainer.log)"; \
	    OMP_WAIT_POLICY=passive build/bin/rock-trainer --endpoint "$${listen%:*}:$$port" \
	      --checkpoint-dir '$(ROCKD_DATA_DIR)/rock-trainer' $(ROCK_TRAINER_ARGS) \
	      >'$(ROCKD_DATA_DIR)/rock-trainer.log' 2>&1 & trainer=$$!; \
	    while kill -0 $$$$ 2>/dev/null && kill -0 $$trainer 2>/dev/null; do sleep 1; done; \
	    kill -TERM $$trainer 2>/dev/null; wait $$trainer ) & ); \
	exec build/bin/rockd --listen "$$listen" --port-file "$$port_file" --data-dir '$(ROCKD_DATA_DIR)'

# Integration tests start real servers on ephemeral ports; ctest runs them one at a time.
test: build
	ctest --preset default $(CTEST_ARGS)

test-asan: build-asan
	ctest --preset asan $(CTEST_ARGS)

# Every benchmark (over an hour), its output written into docs/BENCHMARKS.md; BENCH="NAME ..."
# runs only those (names in bench/report.sh).
bench: build
	bench/report.sh $(BENCH)

install: build
	cmake --install build

clean:
	rm -rf build build-asan
