# hregionfs build. `make` builds the daemon, the engine library, the unit
# tests and the benchmarks into build/; `make check` does the same with
# ASan+UBSan into build-san/ and runs the unit tests there.
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
CC ?= cc
WERROR ?=
SAN ?=

# liblz4, libzstd: store-file block compression (hr_format.h); libmicrohttpd:
# the metrics endpoint (metrics_listen)
PKGS := fuse3 lmdb inih liblz4 libzstd libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lfuse3 -llmdb -linih -llz4 -lzstd -lmicrohttpd)
# librados: storage=rados and cluster mode (shared storage); libzookeeper_mt:
# cluster mode's coordination. The ZooKeeper C client ships no pkg-config
# file and needs THREADED for its multi-threaded API.
PKG_CFLAGS += -DTHREADED
PKG_LIBS += -lrados -lzookeeper_mt

OPT ?= -O2 -g
CFLAGS ?=
# -Wno-format-truncation: paths are built with snprintf into PATH_MAX buffers
# and hr_server_open refuses a data_dir too long for them to fit.
# -Wno-missing-field-initializers: public structs grow at their end (API.md),
# and positional initialisers written before a field was added must stay
# valid (the new fields start zero).
CFLAGS += $(OPT) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter \
	  -Wno-format-truncation -Wno-missing-field-initializers \
	  -Iinclude $(PKG_CFLAGS) -pthread -MMD -MP $(WERROR) $(SAN)
LDFLAGS += -pthread $(SAN)
LDLIBS := $(PKG_LIBS) -lm

# engine/ctl/ is hregionctl, the operator's tool: beside the engine, not
# part of its library. Its commands are a library of their own (libhrctl.a:
# everything but client.c) that the program and the daemon (its control
# socket) both link.
# engine/ctl/proto.c (the frame codec and bounded socket I/O) is shared with
# the RPC (engine/rpc), so it lives in the engine's library.
ENGINE_SRC := $(sort $(filter-out engine/ctl/%,$(wildcard engine/*/*.c)) engine/ctl/proto.c)
FS_SRC := $(sort $(wildcard fs/*.c))
CTL_SRC := $(sort $(wildcard engine/ctl/*.c))
CTL_LIB_SRC := $(filter-out engine/ctl/client.c engine/ctl/proto.c,$(CTL_SRC))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRC := $(sort $(wildcard scripts/bench_*.c))
FSX_BIN := $(BUILD)/hrfs_fsx $(BUILD)/hrfs_ftool $(BUILD)/libhrfs_synclog.so $(BUILD)/hrfs_rpcserve

ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o)
FS_OBJ := $(FS_SRC:%.c=$(BUILD)/%.o)
CTL_OBJ := $(CTL_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:scripts/%.c=$(BUILD)/%)
LIB := $(BUILD)/libhrengine.a
CTL_LIB := $(BUILD)/libhrctl.a

.PHONY: all test check unit install clean soak
all: $(BUILD)/hregionfs $(BUILD)/hregionctl $(BUILD)/hregionfs-server $(UNIT_BIN) $(BENCH_BIN) $(FSX_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(ENGINE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(CTL_LIB): $(CTL_LIB_SRC:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/hregionfs: $(FS_OBJ) $(CTL_LIB) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/hregionctl: $(BUILD)/engine/ctl/client.o $(CTL_LIB) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/hregionfs-server: $(BUILD)/engine/rs/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests of hregionctl's library (test_hrctl_*.c)
$(BUILD)/tests/test_hrctl_%: $(BUILD)/tests/unit/test_hrctl_%.o $(CTL_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench_%: $(BUILD)/scripts/bench_%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The file-semantics exerciser (tests/e2e/fsx.bats; a long run: make soak)
# and the single-call tool of tests/e2e/files.bats.
$(BUILD)/hrfs_%: $(BUILD)/tests/fsx/hrfs_%.o
	$(CC) $(LDFLAGS) -o $@ $^

# Test-only: one RPC server over a local engine, no ZooKeeper (tests/e2e/rpc.bats).
$(BUILD)/hrfs_rpcserve: $(BUILD)/tests/rpc/hrfs_rpcserve.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Test-only LD_PRELOAD library recording the daemon's syncs (power-loss tests).
$(BUILD)/libhrfs_synclog.so: tests/fsx/hrfs_synclog.c
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -std=c11 -Wall -Wextra $(WERROR) -fPIC -shared -pthread -o $@ $< -ldl

# Unit tests, then the end-to-end bats suite; one summary line at the end.
test: all
	scripts/run_tests.sh $(BUILD)

unit: all
	scripts/run_tests.sh --unit-only $(BUILD)

# A long exerciser run against a mount and tmpfs (SOAK_OPS, SOAK_SEED).
soak: all
	tests/fsx/soak.sh $(BUILD)

check:
	$(MAKE) BUILD=build-san SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" \
		OPT="-O1 -g" all
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 scripts/run_tests.sh --unit-only build-san

# Fuzzing (not part of CI, which never needs clang): libFuzzer targets from
# tests/fuzz/ built with clang into build-fuzz/ with ASan+UBSan, seeded by
# fuzz_seeds (well-formed input from the engine's writers), each run for
# FUZZ_RUNS executions; a crash or a broken invariant stops with the input in
# build-fuzz/artifacts/. FUZZ_TARGETS picks targets, FUZZ_ARGS adds libFuzzer
# options (e.g. -jobs=2 -workers=2). Needs clang and libclang-rt-*-dev.
FUZZ_CC ?= clang
FUZZ_BUILD ?= build-fuzz
FUZZ_RUNS ?= 10000000
FUZZ_TARGETS ?= wal edit sfile names ini
FUZZ_ARGS ?=
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined

.PHONY: fuzz fuzz-build
fuzz-build:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) OPT="-O1 -g" \
		SAN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link -Wno-unknown-warning-option" \
		$(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz/fuzz_%) $(FUZZ_BUILD)/fuzz/fuzz_seeds

fuzz: fuzz-build
	@rm -rf $(FUZZ_BUILD)/seeds && mkdir -p $(FUZZ_BUILD)/artifacts
	$(FUZZ_BUILD)/fuzz/fuzz_seeds $(FUZZ_BUILD)/seeds hregionfs.ini
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
		echo "fuzz_$$t: $(FUZZ_RUNS) runs (log: $(FUZZ_BUILD)/fuzz_$$t.log)"; \
		if ! $(FUZZ_BUILD)/fuzz/fuzz_$$t -runs=$(FUZZ_RUNS) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t- $(FUZZ_ARGS) \
			$(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/seeds/$$t \
			>$(FUZZ_BUILD)/fuzz_$$t.log 2>&1; then \
			tail -n 40 $(FUZZ_BUILD)/fuzz_$$t.log; echo "fuzz_$$t: FAILED"; exit 1; \
		fi; \
		grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec)' \
			$(FUZZ_BUILD)/fuzz_$$t.log | sed "s/^/fuzz_$$t: /"; \
	done

$(BUILD)/fuzz/fuzz_seeds: tests/fuzz/fuzz_seeds.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(LIB) $(BUILD)/fs/names.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $< $(BUILD)/fs/names.o $(LIB) $(LDLIBS)

# Man pages go to MANDIR/man8; MAN_GZIP=1 compresses them (as packages do).
MANDIR ?= $(PREFIX)/share/man
MANPAGES := scripts/hregionfs.8 scripts/hregionctl.8 scripts/hregionfs-server.8
MAN_GZIP ?=

install: $(BUILD)/hregionfs $(BUILD)/hregionctl $(BUILD)/hregionfs-server
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/doc/hregionfs
	install -m 0755 $(BUILD)/hregionfs $(DESTDIR)$(PREFIX)/bin/hregionfs
	install -m 0755 $(BUILD)/hregionctl $(DESTDIR)$(PREFIX)/bin/hregionctl
	install -m 0755 $(BUILD)/hregionfs-server $(DESTDIR)$(PREFIX)/sbin/hregionfs-server
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0644 scripts/hregionctl.bash-completion \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/hregionctl
	ln -sf ../bin/hregionfs $(DESTDIR)$(PREFIX)/sbin/mount.hregionfs
	install -m 0644 hregionfs.ini README.md $(DESTDIR)$(PREFIX)/share/doc/hregionfs/
	install -d $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(MANPAGES) $(DESTDIR)$(MANDIR)/man8/
	$(if $(filter 1,$(MAN_GZIP)),gzip -9nf $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MANPAGES))))

clean:
	rm -rf build build-san $(FUZZ_BUILD)

-include $(ENGINE_OBJ:.o=.d) $(FS_OBJ:.o=.d) $(CTL_OBJ:.o=.d) $(BUILD)/engine/rs/main.d $(UNIT_BIN:$(BUILD)/tests/%=$(BUILD)/tests/unit/%.d) \
	$(BUILD)/tests/fsx/hrfs_fsx.d $(BUILD)/tests/fsx/hrfs_ftool.d
