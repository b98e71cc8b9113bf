# meshc / meshrt -- one plain GNU Makefile.
#
#   make              build build/meshc and build/meshrt
#   make test         unit, golden, conformance and end-to-end tests
#   make test SANITIZE=1   the same under ASan+UBSan (objects in build-san/)
#   make demo         the seed scenario end to end on loopback
#   make golden       regenerate golden files (review the diff!)
#   make bench        benchmarks against the parse floor and peers
#   make install PREFIX=/usr/local
#   make deps         install (as root) or name the missing Debian packages
#   WERROR=1          turn warnings into errors (CI)

VERSION   := 0.1.0
PREFIX    ?= /usr/local
CC        ?= gcc
CXX       ?= g++

WARN      := -Wall -Wextra -Wshadow -Wundef -Wstrict-prototypes \
             -Wmissing-prototypes -Wold-style-definition -Wwrite-strings \
             -Wpointer-arith -Wformat=2 -Wno-format-nonliteral -Wvla \
             -Wimplicit-fallthrough -Wmissing-declarations
CXXWARN   := -Wall -Wextra -Wshadow -Wundef -Wpointer-arith

ifeq ($(SANITIZE),1)
BUILD     ?= build-san
OPT       := -O1 -g -fno-omit-frame-pointer
SANFLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all
else
BUILD     ?= build
OPT       ?= -O2 -g
SANFLAGS  :=
endif
ifeq ($(WERROR),1)
WARN      += -Werror
CXXWARN   += -Werror
endif

PKGS      := yaml-0.1 jansson libcurl libxxhash re2 libcares openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl: headers only; meshc dlopens it when an input is a URL (load.c)
PKG_LIBS  := $(shell pkg-config --libs $(filter-out libcurl,$(PKGS)) 2>/dev/null)

CPPFLAGS  += -D_GNU_SOURCE -DMESH_VERSION='"$(VERSION)"' -Icompiler -Iruntime
CFLAGS    := -std=gnu11 $(OPT) $(WARN) $(SANFLAGS) $(PKG_CFLAGS) -MMD -MP
CXXFLAGS  := -std=c++17 $(OPT) $(CXXWARN) $(SANFLAGS) -MMD -MP
LDFLAGS   += $(SANFLAGS) -Wl,--as-needed
LDLIBS    := $(PKG_LIBS) -lstdc++ -lm -ldl

# Debian packages the build and the tests need (make deps, .ci/run)
DEB_PKGS  := gcc g++ make pkg-config libyaml-dev libjansson-dev \
             libcurl4-openssl-dev libre2-dev libc-ares-dev libxxhash-dev \
             libssl-dev curl openssl ca-certificates
DEB_BENCH := wrk haproxy nginx-light hyperfine
# the hot-reload test drives load through meshrt with wrk
DEB_PKGS  += wrk

# Sources: every compiler/*.c but main.c forms libmeshc; the runtime
# modules both tools share (the image format, lookups, regex shim) form
# libmeshimg.
MC_SRC    := $(filter-out compiler/main.c,$(wildcard compiler/*.c))
IMG_SRC   := $(wildcard runtime/image.c runtime/table.c)
IMG_CXX   := $(wildcard runtime/*.cc)
RT_SRC    := $(filter-out runtime/image.c runtime/table.c runtime/main.c,$(wildcard runtime/*.c))

MC_OBJ    := $(MC_SRC:%.c=$(BUILD)/%.o)
IMG_OBJ   := $(IMG_SRC:%.c=$(BUILD)/%.o) $(IMG_CXX:%.cc=$(BUILD)/%.o)
RT_OBJ    := $(RT_SRC:%.c=$(BUILD)/%.o)

UNIT_SRC  := $(wildcard tests/unit/t_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC  := $(wildcard tests/tools/*.c)
TOOL_BIN  := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all test test-run check golden demo demo-run bench install deps clean conformance
all: $(BUILD)/meshc $(BUILD)/meshrt

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

$(BUILD)/libmeshc.a: $(MC_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libmeshimg.a: $(IMG_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libmeshrt.a: $(RT_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/meshc: $(BUILD)/compiler/main.o $(BUILD)/libmeshc.a $(BUILD)/libmeshimg.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/meshrt: $(BUILD)/runtime/main.o $(BUILD)/libmeshrt.a $(BUILD)/libmeshimg.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libmeshc.a $(BUILD)/libmeshrt.a $(BUILD)/libmeshimg.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/libmeshc.a $(BUILD)/libmeshrt.a $(BUILD)/libmeshimg.a $(LDLIBS)

$(BUILD)/tests/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libmeshc.a $(BUILD)/libmeshrt.a $(BUILD)/libmeshimg.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmeshc.a $(BUILD)/libmeshrt.a $(BUILD)/libmeshimg.a $(LDLIBS)

# deps first, then a fresh make: pkg-config flags are read when make starts
test check: deps
	@$(MAKE) --no-print-directory test-run

test-run: all $(UNIT_BIN) $(TOOL_BIN)
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) bash tests/run.sh

golden: all
	@BUILD=$(BUILD) UPDATE=1 bash tests/golden.sh

conformance: all
	@BUILD=$(BUILD) bash tests/conformance.sh

demo: deps
	@$(MAKE) --no-print-directory demo-run

demo-run: all $(TOOL_BIN)
	@BUILD=$(BUILD) bash tests/demo.sh

bench: all $(BENCH_BIN) $(TOOL_BIN)
	@DEB_BENCH="$(DEB_BENCH)" BUILD=$(BUILD) bash bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 755 $(BUILD)/meshc $(BUILD)/meshrt $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(wildcard man/*.1) $(DESTDIR)$(PREFIX)/share/man/man1/
	$(if $(wildcard man/*.5),install -m 644 $(wildcard man/*.5) $(DESTDIR)$(PREFIX)/share/man/man5/)

# Install missing Debian packages when root; otherwise name the command.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing || \
	      { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; } || exit 1; \
	  else \
	    echo "missing Debian packages; run:"; echo "  sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

clean:
	rm -rf build build-san

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Schemas (schema stage): schemas/*.json are embedded into libmeshc as
# string literals by compiler/embed.awk, and compiled at run time.
SCHEMA_JSON := $(sort $(wildcard schemas/*.json))

$(BUILD)/gen/schemas.c: $(SCHEMA_JSON) compiler/embed.awk
	@mkdir -p $(dir $@)
	LC_ALL=C awk -f compiler/embed.awk $(SCHEMA_JSON) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/schemas.o: $(BUILD)/gen/schemas.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libmeshc.a: $(BUILD)/gen/schemas.o

# HTTP/1 parser micro benchmark (ns per request; runtime core)
.PHONY: bench-http1
bench-http1: $(BUILD)/bench/http1
	@$(BUILD)/bench/http1

# the conformance runner reads the corpus' JSON with tests/tools/judge
conformance: $(TOOL_BIN)

# route image (issue 4): meshrt test reads its YAML with the compiler's
# loader, so meshrt links libmeshc too (after the runtime libraries).
$(BUILD)/meshrt: $(BUILD)/libmeshc.a

# meshrt run (issue 5): nginx-light needs its stream module for the SNI
# passthrough peer in bench/bench_proxy.sh.
DEB_BENCH += libnginx-mod-stream
