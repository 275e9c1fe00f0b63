# imgpca -- SQLite extension: images -> features -> PCA, with S3 and local storage.
#
#   make            build dist/imgpca.so and dist/libimgpca.a (only builds: run `make deps`
#                   first on a machine without the -dev packages)
#   make deps       install the missing Debian packages needed to build
#   make test       everything: unit, SQL, Python cross-checks, integration, ASan/UBSan
#                   (installs the missing build and test packages first)
#   make format-check   C sources against .clang-format
#   make bench      benchmarks -> bench/RESULTS.md
#   make install    PREFIX=/usr/local: library, header, pkg-config file, pipeline SQL
#                   ($PREFIX/share/imgpca/pipeline.sql runs from any folder; so does
#                   $PREFIX/bin/imgpca pipeline STATE.db source=... out=...)
#   make demo       the full pipeline on local files (README command 1)

PREFIX  ?= /usr/local
CC      ?= cc
CFLAGS  ?= -O2 -g
PY      ?= /usr/bin/python3
SQLITE3 ?= sqlite3

PKGS := libcurl libpng expat openblas lapacke libturbojpeg libjpeg libprotobuf-c
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -fPIC \
              -fvisibility=hidden -Iinclude -Iext -Ibuild/gen $(PKG_CFLAGS)
LIBS = $(or $(PKG_LIBS),-lturbojpeg -ljpeg -lpng -lopenblas -llapacke -lcurl -lexpat -lprotobuf-c) -lpthread -lm

# ONNX's protobuf schema as shipped by Debian (libonnx-dev), compiled to C by
# protoc-c at build time: the generated parser is never committed.
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
GEN_C := build/gen/onnx.pb-c.c
GEN_H := build/gen/onnx.pb-c.h
$(GEN_C) $(GEN_H) &: $(ONNX_PROTO)
	@mkdir -p build/gen
	cp $(ONNX_PROTO) build/gen/onnx.proto
	cd build/gen && protoc-c --c_out=. onnx.proto

SRC  := $(sort $(wildcard ext/*.c ext/*/*.c))
OBJ  := $(SRC:ext/%.c=build/obj/%.o) build/obj/gen/onnx.pb-c.o
AOBJ := $(SRC:ext/%.c=build/asan/%.o) build/asan/gen/onnx.pb-c.o
HDR  := $(wildcard include/*.h ext/*.h ext/*/*.h) $(GEN_H)

SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/unit/%)
UNIT_ASAN := $(UNIT_SRC:tests/unit/%.c=build/unit-asan/%)

.PHONY: all deps test-deps test test-quick test-unit test-unit-asan test-sql test-api test-py \
        test-integration test-asan test-report test-examples test-oom test-concurrency fuzz fuzz-build test-fuzz fuzz-long \
        bench install uninstall demo clean format format-check print-libs

all: dist/imgpca.so dist/libimgpca.a build/libimgpca-int.a

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

build/obj/%.o: ext/%.c $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -c $< -o $@

build/asan/%.o: ext/%.c $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -O1 -g $(SAN_FLAGS) -c $< -o $@

# the CNN kernels are the hot loop of cnn: features: always optimised
build/obj/cnn/%.o: ext/cnn/%.c $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -O3 -c $< -o $@

# the generated protobuf parser, in every build variant
build/obj/gen/onnx.pb-c.o: $(GEN_C) $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -w -c $< -o $@
build/asan/gen/onnx.pb-c.o: $(GEN_C) $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -O1 -g $(SAN_FLAGS) -w -c $< -o $@
build/core/gen/onnx.pb-c.o: $(GEN_C) $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -w -c $< -o $@
build/tsan/gen/onnx.pb-c.o: $(GEN_C) $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -O1 -g $(TSAN_FLAGS) -w -c $< -o $@
build/fuzz/obj/gen/onnx.pb-c.o: $(GEN_C) $(GEN_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(BASE_CFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -w -c $< -o $@

# the report page template is compiled into report.o (.incbin)
build/obj/report/report.o build/asan/report/report.o build/fuzz/obj/report/report.o: ext/report/report.html

dist/imgpca.so: $(OBJ)
	@mkdir -p dist
	$(CC) -shared -Wl,--as-needed -o $@ $(OBJ) $(LIBS) -Wl,--no-undefined
	@nm -D --defined-only $@ | grep -v ' _' | awk '$$2 ~ /[TDBR]/ {print $$3}' | \
	  grep -vx 'sqlite3_imgpca_init' && { echo "error: symbols other than the entry point are exported"; exit 1; } || true

# The static library is for embedding: objects compiled with SQLITE_CORE
# (direct calls into the application's SQLite, no sqlite3_api global, pApi
# may be NULL), merged into one relocatable object whose only global symbol
# is sqlite3_imgpca_init, so nothing clashes with the application or with
# other extensions linked next to it.
COBJ := $(SRC:ext/%.c=build/core/%.o) build/core/gen/onnx.pb-c.o

build/core/%.o: ext/%.c $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -DSQLITE_CORE -c $< -o $@

build/core/imgpca-embed.o: $(COBJ)
	ld -r -o $@ $(COBJ)
	objcopy --keep-global-symbol=sqlite3_imgpca_init $@

dist/libimgpca.a: build/core/imgpca-embed.o
	@mkdir -p dist
	rm -f $@ && ar rcs $@ build/core/imgpca-embed.o
	@nm -g --defined-only $@ | awk 'NF == 3 {print $$3}' | grep -vx 'sqlite3_imgpca_init' && \
	  { echo "error: $@ defines global symbols other than the entry point"; exit 1; } || true

# Embedding test: the archive next to another extension using
# SQLITE_EXTENSION_INIT1, initialised both ways (tests/embed/).
build/embed/embed_two: tests/embed/embed_two.c tests/embed/other_ext.c dist/libimgpca.a include/imgpca.h
	@mkdir -p build/embed
	$(CC) -std=c11 -Wall -Wextra $(CFLAGS) -c tests/embed/other_ext.c -o build/embed/other_ext.o
	$(CC) -std=c11 -Wall -Wextra $(CFLAGS) -Iinclude tests/embed/embed_two.c build/embed/other_ext.o \
	  dist/libimgpca.a -o $@ -lsqlite3 $(LIBS)

.PHONY: test-embed
test-embed: build/embed/embed_two
	@build/embed/embed_two

# Interrupt test: long loops stop on sqlite3_interrupt (tests/interrupt/).
build/interrupt/interrupt: tests/interrupt/interrupt.c dist/libimgpca.a include/imgpca.h
	@mkdir -p build/interrupt
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra $(CFLAGS) -Iinclude $< dist/libimgpca.a -o $@ -lsqlite3 $(LIBS)

.PHONY: test-interrupt
test-interrupt: build/interrupt/interrupt
	@tests/interrupt/run.sh build/interrupt/interrupt

# Internal archive of every object (the unit tests call the cores directly).
build/libimgpca-int.a: $(OBJ)
	rm -f $@ && ar rcs $@ $(OBJ)

dist/asan/imgpca.so: $(AOBJ)
	@mkdir -p dist/asan
	$(CC) -shared $(SAN_FLAGS) -o $@ $(AOBJ) $(LIBS)

build/unit/%: tests/unit/%.c build/libimgpca-int.a tests/unit/unit.h
	@mkdir -p build/unit
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Itests/unit $< -o $@ build/libimgpca-int.a -lsqlite3 $(LIBS)

build/unit-asan/%: tests/unit/%.c $(AOBJ) tests/unit/unit.h
	@mkdir -p build/unit-asan
	$(CC) $(BASE_CFLAGS) -O1 -g $(SAN_FLAGS) -Itests/unit $< -o $@ $(AOBJ) -lsqlite3 $(LIBS)

# ---- tests ---------------------------------------------------------------
test: test-deps
	@$(MAKE) -s all
	@tests/run-all.sh

test-quick: all
	@IMGPCA_QUICK=1 tests/run-all.sh

test-unit: all $(UNIT_BIN)
	@tests/run-unit.sh build/unit $(UNIT_BIN)

test-unit-asan: $(UNIT_ASAN)
	@tests/run-unit.sh build/unit-asan $(UNIT_ASAN)

test-sql: all
	@tests/run-sql.sh dist/imgpca

test-api: all
	@tests/api-surface.sh dist/imgpca

test-py: all
	@tests/run-py.sh

test-integration: all
	@tests/run-integration.sh

# report.html in headless Chromium + the static SVGs with rsvg-convert (tests/report)
test-report: all
	@tests/report/run.sh

test-asan: dist/asan/imgpca.so $(UNIT_ASAN)
	@tests/run-unit.sh build/unit-asan $(UNIT_ASAN)
	@tests/run-sql.sh dist/asan/imgpca asan

# ---- benchmarks, install, demo -------------------------------------------
bench: test-deps
	@$(MAKE) -s all
	@bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 dist/libimgpca.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 dist/imgpca.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/imgpca.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBS@|$(LIBS)|' \
	    -e "s|@VERSION@|$$(sed -n 's/^#define IMGPCA_VERSION  *\"\(.*\)\"/\1/p' include/imgpca.h)|" \
	    scripts/imgpca.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/imgpca.pc
	install -d $(DESTDIR)$(PREFIX)/share/imgpca/sql/stages
	install -m 644 sql/*.sql $(DESTDIR)$(PREFIX)/share/imgpca/sql/
	install -m 644 sql/stages/*.sql $(DESTDIR)$(PREFIX)/share/imgpca/sql/stages/
	scripts/pipeline-bundle.sh sql/pipeline.sql > $(DESTDIR)$(PREFIX)/share/imgpca/pipeline.sql
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 scripts/imgpca $(DESTDIR)$(PREFIX)/bin/imgpca

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libimgpca.a $(DESTDIR)$(PREFIX)/lib/imgpca.so \
	      $(DESTDIR)$(PREFIX)/include/imgpca.h $(DESTDIR)$(PREFIX)/lib/pkgconfig/imgpca.pc \
	      $(DESTDIR)$(PREFIX)/bin/imgpca
	rm -rf $(DESTDIR)$(PREFIX)/share/imgpca

clean:
	rm -rf build dist

# the link flags a program embedding dist/libimgpca.a needs (used by examples/)
print-libs:
	@echo '$(LIBS)'

test-examples: all
	@if [ -f examples/Makefile ]; then $(MAKE) -s -C examples test; else echo "examples: none yet"; fi

# ---- demo (README command 1): deps, build, demo images, pipeline, summary --
#   make demo                                   generated demo image set
#   make demo SOURCE=/path/to/fruits360         a real folder
#   make demo SOURCE=s3://bucket/prefix OUT=s3://bucket/out
demo:
	@scripts/install-deps.sh demo
	@$(MAKE) -s all
	@scripts/demo.sh
# ---- reliability: OOM sweep (tests/oom) ------------------------------------
build/oom/oom: tests/oom/oom.c tests/oom/sqlrun.h $(AOBJ)
	@mkdir -p build/oom
	$(CC) $(BASE_CFLAGS) -O1 -g $(SAN_FLAGS) $< -o $@ $(AOBJ) -lsqlite3 $(LIBS)

test-oom: build/oom/oom
	@tests/oom/run.sh build/oom/oom

# ---- reliability: libFuzzer targets (fuzz/) ---------------------------------
# make fuzz FUZZ_SECONDS=N runs each target N seconds; make test-fuzz runs a
# short bounded run of each (CI) and fails on any finding.
FUZZ_SECONDS ?= 60
FUZZ_CC   ?= clang
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_OBJ  := $(SRC:ext/%.c=build/fuzz/obj/%.o) build/fuzz/obj/gen/onnx.pb-c.o
# A target is built once the core it includes (its first #include "dir/x.h")
# exists in ext/ -- cores land on main one branch at a time.
FUZZ_ALL  := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_READY := $(shell for f in $(FUZZ_ALL); do \
                h=$$(sed -n 's/^\#include "\([a-z0-9_]*\/[a-z0-9_]*\.h\)"/\1/p' $$f | head -1); \
                [ -z "$$h" ] || [ -f "ext/$$h" ] && echo $$f; done)
FUZZ_BIN  := $(patsubst fuzz/%.c,build/fuzz/%,$(FUZZ_READY))
FUZZ_WAIT := $(filter-out $(FUZZ_READY),$(FUZZ_ALL))

build/fuzz/obj/%.o: ext/%.c $(HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(BASE_CFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

build/fuzz/libimgpca-fuzz.a: $(FUZZ_OBJ)
	rm -f $@ && ar rcs $@ $(FUZZ_OBJ)

build/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h build/fuzz/libimgpca-fuzz.a
	$(FUZZ_CC) $(BASE_CFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Ifuzz $< -o $@ build/fuzz/libimgpca-fuzz.a -lsqlite3 $(LIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	@fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

# make fuzz-long: every target for FUZZ_LONG_SECONDS in total (default an hour,
# split evenly; outside make test), the corpus kept in build/fuzz/corpus; the
# executions and coverage of each target go to build/fuzz/long-<date>.txt.
FUZZ_LONG_SECONDS ?= 3600
fuzz-long: $(FUZZ_BIN)
	@mkdir -p build/fuzz
	@f=build/fuzz/long-$$(date +%Y%m%d-%H%M).txt; \
	  fuzz/run.sh $$(( $(FUZZ_LONG_SECONDS) / $(words $(FUZZ_BIN)) )) $(FUZZ_BIN) > $$f 2>&1; rc=$$?; cat $$f; exit $$rc

test-fuzz: $(FUZZ_BIN)
	@$(if $(FUZZ_WAIT),echo "fuzz: not built yet (core not on this branch): $(FUZZ_WAIT)";) true
	@fuzz/run.sh test $(FUZZ_BIN)

# ---- reliability: concurrency (tests/concurrency) ---------------------------
build/concurrency/concurrency: tests/concurrency/concurrency.c tests/oom/sqlrun.h $(AOBJ)
	@mkdir -p build/concurrency
	$(CC) $(BASE_CFLAGS) -O1 -g $(SAN_FLAGS) -Itests/oom $< -o $@ $(AOBJ) -lsqlite3 $(LIBS)

test-concurrency: build/concurrency/concurrency
	@ASAN_OPTIONS=detect_leaks=1:exitcode=99 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  build/concurrency/concurrency tests/concurrency/cases.txt $${IMGPCA_THREADS:-4} $${IMGPCA_ROUNDS:-3}

# ---- reliability: ThreadSanitizer -------------------------------------------
# The concurrency test (tests/concurrency; IMGPCA_THREADS x IMGPCA_ROUNDS,
# default 4 x 1), the s3_fetch_many worker-pool tests (tests/unit/test_fetch*.c) and the knn threads (test_knn.c)
# against a -fsanitize=thread build of the cores under build/tsan.  Any report
# fails; tests/tsan.supp lists the suppressed ones, each with its reason.
TSAN_FLAGS = -fsanitize=thread -fno-omit-frame-pointer
TOBJ := $(SRC:ext/%.c=build/tsan/%.o) build/tsan/gen/onnx.pb-c.o
TSAN_TESTS := build/unit-tsan/test_fetch build/unit-tsan/test_fetch_interrupt build/unit-tsan/test_knn
TSAN_ENV = TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp halt_on_error=0 exitcode=66 report_signal_unsafe=0 second_deadlock_stack=1"
.SECONDARY: $(TOBJ)

build/tsan/%.o: ext/%.c $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -O1 -g $(TSAN_FLAGS) -c $< -o $@

build/unit-tsan/%: tests/unit/%.c $(TOBJ) tests/unit/unit.h
	@mkdir -p build/unit-tsan
	$(CC) $(BASE_CFLAGS) -O1 -g $(TSAN_FLAGS) -Itests/unit $< -o $@ $(TOBJ) -lsqlite3 $(LIBS)

build/tsan/concurrency: tests/concurrency/concurrency.c tests/oom/sqlrun.h $(TOBJ)
	@mkdir -p build/tsan
	$(CC) $(BASE_CFLAGS) -O1 -g $(TSAN_FLAGS) -Itests/oom $< -o $@ $(TOBJ) -lsqlite3 $(LIBS)

.PHONY: test-tsan test-tsan-fetch
test-tsan: build/tsan/concurrency test-tsan-fetch
	@$(TSAN_ENV) build/tsan/concurrency tests/concurrency/cases.txt $${IMGPCA_THREADS:-4} $${IMGPCA_ROUNDS:-1}

test-tsan-fetch: $(TSAN_TESTS)
	@$(TSAN_ENV) tests/run-unit.sh build/unit-tsan $(TSAN_TESTS)

# ---- style: clang-format (.clang-format) -----------------------------------
FORMAT_SRC = $(sort $(wildcard ext/*.[ch] ext/*/*.[ch] include/*.h tests/unit/*.[ch]))
format:
	clang-format -i $(FORMAT_SRC)

format-check:
	@bad=0; for f in $(FORMAT_SRC); do \
	  clang-format --style=file "$$f" | cmp -s - "$$f" || { echo "format-check: $$f differs from .clang-format (make format)"; bad=1; }; \
	done; [ $$bad = 0 ] && echo "ok   format-check ($(words $(FORMAT_SRC)) files)"

# ---- CNN: ONNX conformance, hostile models, cross-checks (tests/cnn) -------
# The conformance harness reads the ONNX node tests' TensorProto files with
# the protobuf-c parser generated for the engine (build/gen, in OBJ/AOBJ).
build/cnntest/conformance: tests/cnn/conformance.c build/libimgpca-int.a $(GEN_H)
	@mkdir -p build/cnntest
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $< -o $@ build/libimgpca-int.a $(LIBS)

build/cnntest/conformance-asan: tests/cnn/conformance.c $(AOBJ)
	@mkdir -p build/cnntest
	$(CC) $(BASE_CFLAGS) -O1 -g $(SAN_FLAGS) $< -o $@ $(AOBJ) $(LIBS)

build/cnntest/hostile: tests/cnn/hostile.c $(AOBJ)
	@mkdir -p build/cnntest
	$(CC) $(BASE_CFLAGS) -O1 -g $(SAN_FLAGS) $< -o $@ $(AOBJ) $(LIBS)

.PHONY: test-cnn-conformance test-cnn-conformance-asan test-cnn-hostile test-cnn-torch test-cnn
test-cnn-conformance: build/cnntest/conformance
	@build/cnntest/conformance

test-cnn-conformance-asan: build/cnntest/conformance-asan
	@ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 build/cnntest/conformance-asan

# hostile models (truncated, bit-flipped, oversized, cyclic ...): clear errors under ASan/UBSan
test-cnn-hostile: build/cnntest/hostile
	@$(PY) tests/cnn/hostile_models.py build/cnntest/hostile-models >/dev/null
	@ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 build/cnntest/hostile ../shared/models build/cnntest/hostile-models

# torchvision architectures exported at opsets 11 and 13 vs PyTorch (models cached in build/cnntest/torch)
test-cnn-torch: all
	@IMGPCA_EXT=$(CURDIR)/dist/imgpca $(PY) tests/cnn/torch_export.py

test-cnn: test-cnn-conformance test-cnn-conformance-asan test-cnn-hostile test-cnn-torch
