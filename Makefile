# Makefile - tide: build, test and install every part.
#
#   make            build the format library, the store library, the decoder
#                   plugin and `tide`
#   make check      every test suite (unit under valgrind, pg_regress, TAP)
#   make install    the plugin (PGXS), the `tide` binary and the manual
#                   pages; honours DESTDIR and PREFIX
#   make man        the manual pages (man/build, from scdoc sources)
#   make deb        the Debian packages tide and postgresql-15-tide, into
#                   dist/ (dpkg-buildpackage; not part of make check)
#   make package-check  make deb, then what the packages hold, unpacked
#   make demo       the main job end to end on throwaway clusters
#   make bench      the benchmarks against the anchors (see bench/)
#   make bench-follow  --follow lag under a steady load (RATE=1000 SECONDS=60)
#   make bench-jobs    tide apply --jobs 1..4 and a 1 GB transaction at --jobs 4
#   make fuzz       the libFuzzer harnesses, 10 minutes each
#   make gameday    the fault-injection suite with 60 cycles (GAMEDAY_CYCLES=N)
#   make torture    the randomized harness for MINUTES (60) from SEED
#                   (tests/random/README.md)
#
# Missing Debian packages are installed when run as root; otherwise the
# exact apt-get command is printed.

PG_CONFIG ?= pg_config
PREFIX ?= /usr/local
export PG_CONFIG

DEB_PACKAGES = postgresql-server-dev-15 libzstd-dev libuv1-dev libxxhash-dev \
	libipc-run-perl libcmocka-dev valgrind zstd faketime locales \
	libcurl4-openssl-dev libxml2-dev libjansson-dev libssl-dev \
	nginx time nodejs npm scdoc groff-base debhelper systemd
# what each package leaves behind, to test for it without dpkg (locales: the
# sources tests/tap/t/082_apply_text_forms.pl compiles a de_DE locale from;
# nodejs and npm: a machine whose Node.js comes from elsewhere has both
# commands; scdoc renders man/ and groff checks it, debhelper builds
# `make deb`, systemd brings the systemd-analyze that checks
# packaging/systemd's units)
DEB_PROBES = /usr/include/postgresql/15/server/postgres.h /usr/include/zstd.h \
	/usr/include/uv.h /usr/include/xxhash.h \
	/usr/share/perl5/IPC/Run.pm /usr/include/cmocka.h /usr/bin/valgrind \
	/usr/bin/zstd /usr/bin/faketime /usr/share/i18n/locales/de_DE \
	/usr/bin/curl-config /usr/include/libxml2/libxml/parser.h /usr/include/jansson.h \
	/usr/include/openssl/evp.h /usr/sbin/nginx /usr/bin/time /usr/bin/node /usr/bin/npm \
	/usr/bin/scdoc /usr/bin/groff /usr/bin/dh /usr/bin/systemd-analyze
# the S3 server the store tests start (npm @20minutes/s3rver), installed
# from tests/store/package-lock.json into tests/store/node_modules
S3RVER_PROBE = tests/store/node_modules/@20minutes/s3rver/package.json

all: deps-check
	$(MAKE) -C proto
	$(MAKE) -C common
	$(MAKE) -C store
	$(MAKE) -C decoder
	$(MAKE) -C cli

# deps - install what is missing (root on Debian) or say how; then the npm
# test server, into the project (never globally).
deps: deps-debian
	@if [ ! -e $(S3RVER_PROBE) ]; then \
		echo "installing the S3 test server into tests/store/node_modules"; \
		cd tests/store && npm ci --no-audit --no-fund --loglevel=error; \
	fi

deps-debian:
	@missing=""; set -- $(DEB_PROBES); \
	for p in $(DEB_PACKAGES); do [ -e "$$1" ] || missing="$$missing $$p"; shift; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing:$$missing"; \
		apt-get install -y -q $$missing || \
		{ apt-get update -q && apt-get install -y -q $$missing; } || exit 1; \
	else \
		echo "tide needs these packages:$$missing"; \
		echo "install them with: sudo apt-get install -y$$missing"; exit 1; \
	fi

deps-check:
	@set -- $(DEB_PROBES); missing=""; \
	for p in $(DEB_PACKAGES); do [ -e "$$1" ] || missing="$$missing $$p"; shift; done; \
	if [ -n "$$missing" ]; then \
		echo "missing packages:$$missing"; \
		echo "run 'make deps' as root, or: sudo apt-get install -y$$missing"; exit 1; \
	fi

check: deps
	$(MAKE) all
	$(MAKE) -C tests unit
	$(MAKE) -C tests golden
	$(MAKE) -C tests docker
	$(MAKE) -C tests man
	$(MAKE) -C tests units
	$(MAKE) -C tests fuzz-short
	$(MAKE) -C decoder regress
	$(MAKE) -C tests store-tool
	$(MAKE) -C tests tap-lanes
	@echo "make check: all suites passed"

install: all man
	$(MAKE) -C decoder install
	$(MAKE) -C cli install PREFIX=$(PREFIX)
	$(MAKE) -C man install PREFIX=$(PREFIX)

man:
	$(MAKE) -C man

# dpkg-buildpackage cleans the parts first (debian/rules clean), builds them
# with dpkg-buildflags' hardening and writes into the parent directory: the
# packages are moved into dist/ (lintian runs on them when it is installed)
deb: deps-debian
	dpkg-buildpackage -us -uc -b
	@mkdir -p dist; v=$$(dpkg-parsechangelog -S Version); a=$$(dpkg --print-architecture); \
	for f in tide_$${v}_$$a.deb tide-dbgsym_$${v}_$$a.deb postgresql-15-tide_$${v}_$$a.deb \
		postgresql-15-tide-dbgsym_$${v}_$$a.deb tide_$${v}_$$a.buildinfo tide_$${v}_$$a.changes; do \
		[ ! -e ../$$f ] || mv ../$$f dist/; \
	done; ls -l dist; \
	if command -v lintian >/dev/null; then lintian --info dist/tide_$${v}_$$a.changes || true; fi

# the packages hold and run what they must, checked without installing them
package-check: deb
	packaging/deb-check.sh

demo: deps
	$(MAKE) all
	demo/demo.sh

bench: deps all
	bench/decoder.sh insert
	bench/decoder.sh tpcb
	bench/stream.sh insert
	bench/stream.sh tpcb

# SECONDS is special to bash: hand it over under another name
bench-follow: deps all
	DURATION=$(or $(SECONDS),$(DURATION),60) bench/follow.sh

# the store's figures (issue 9): top-off from http:// and s3:// against a
# fresh pg_dump, drain with and without --publish, memory with a 1 GB segment
bench-store: deps all
	bench/store.sh topoff
	bench/store.sh drain
	bench/store.sh memory

# large transactions on the source, streamed while in progress and not
# (SIZE_MB: the big transaction, default 1024)
bench-spill: deps all
	bench/spill.sh $(SIZE_MB)

# tide apply --jobs (issue 11): N = 1..4 on the same segments with the
# anchors, then one 1 GB transaction among small ones at --jobs 4 (peak RSS)
bench-jobs: deps all
	bench/apply.sh --jobs-scan 1,2,3,4 tpcb
	bench/apply.sh --jobs-scan 1,2,3,4 insert
	bench/apply-large.sh

fuzz: deps all
	$(MAKE) -C tests fuzz

gameday: deps
	$(MAKE) all
	$(MAKE) -C tests gameday

torture: deps
	$(MAKE) all
	$(MAKE) -C tests torture $(if $(SEED),SEED=$(SEED)) $(if $(MINUTES),MINUTES=$(MINUTES))

clean:
	$(MAKE) -C proto clean
	$(MAKE) -C common clean
	$(MAKE) -C store clean
	$(MAKE) -C decoder clean
	$(MAKE) -C cli clean
	$(MAKE) -C man clean
	$(MAKE) -C tests clean

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

.PHONY: all deps deps-debian deps-check check install man deb package-check demo bench bench-follow bench-store bench-spill bench-jobs fuzz gameday torture clean format
