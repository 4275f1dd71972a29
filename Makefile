# hregionfs build. `make` builds the daemon, the engine library, the unit
# tests and the benchmarks into build/; `make check` does the same with
# ASan+UBSan into build-san/ and runs the unit tests there.
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
CC ?= cc
WERROR ?=
SAN ?=

PKGS := fuse3 lmdb inih
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lfuse3 -llmdb -linih)

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

ENGINE_SRC := $(sort $(wildcard engine/*/*.c))
FS_SRC := $(sort $(wildcard fs/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRC := $(sort $(wildcard scripts/bench_*.c))
FSX_BIN := $(BUILD)/hrfs_fsx $(BUILD)/hrfs_ftool $(BUILD)/libhrfs_synclog.so

ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o)
FS_OBJ := $(FS_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:scripts/%.c=$(BUILD)/%)
LIB := $(BUILD)/libhrengine.a

.PHONY: all test check unit install clean soak
all: $(BUILD)/hregionfs $(UNIT_BIN) $(BENCH_BIN) $(FSX_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(ENGINE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/hregionfs: $(FS_OBJ) $(LIB)
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

install: $(BUILD)/hregionfs
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/doc/hregionfs
	install -m 0755 $(BUILD)/hregionfs $(DESTDIR)$(PREFIX)/bin/hregionfs
	ln -sf ../bin/hregionfs $(DESTDIR)$(PREFIX)/sbin/mount.hregionfs
	install -m 0644 hregionfs.ini README.md $(DESTDIR)$(PREFIX)/share/doc/hregionfs/

clean:
	rm -rf build build-san

-include $(ENGINE_OBJ:.o=.d) $(FS_OBJ:.o=.d) $(UNIT_BIN:$(BUILD)/tests/%=$(BUILD)/tests/unit/%.d) \
	$(BUILD)/tests/fsx/hrfs_fsx.d $(BUILD)/tests/fsx/hrfs_ftool.d
