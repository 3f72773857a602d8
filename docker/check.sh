#!/usr/bin/env bash
# docker/check.sh - what can be checked here without a Docker engine: the
# compose file parses, and every path and command the files name exists.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "docker/check.sh: $*" >&2; exit 1; }
if command -v docker-compose >/dev/null; then
	docker-compose -f docker/compose.yaml config -q || fail "compose.yaml does not parse"
elif docker compose version >/dev/null 2>&1; then
	docker compose -f docker/compose.yaml config -q || fail "compose.yaml does not parse"
else
	echo "docker/check.sh: no docker-compose: skipping the compose syntax check"
fi
# every COPY source in the Dockerfile exists
grep -E '^COPY [^-]' docker/Dockerfile | awk '{print $2}' | while read -r p; do
	[ -e "$p" ] || fail "Dockerfile copies $p, which does not exist"
done
# every part the builds reach (../DIR in cli/ and decoder/'s Makefiles) is
# copied into the build stage
for d in $(grep -ohE '\.\./[a-z]+/' cli/Makefile decoder/Makefile | sort -u | sed -E 's|\.\./([a-z]+)/|\1|'); do
	[ -d "$d" ] || continue    # e.g. PGXS's own ../../src
	grep -qE "^COPY $d $d\$" docker/Dockerfile || fail "the build uses $d/, which the Dockerfile does not copy (COPY $d $d)"
done
# every library tide links has its -dev package in the build stage and its
# runtime package in the final image (a library not in this table fails
# the check: add it here and to the Dockerfile)
libs=$(sed -n '/^LIBS *=/,/^$/p' cli/Makefile | grep -oE -- '-l[a-z0-9_]+' | sed 's/^-l//' | sort -u)
[ -n "$libs" ] || fail "no LIBS line in cli/Makefile"
for l in $libs; do
	case $l in
		pq) dev=libpq-dev; run=libpq5 ;;
		uv) dev=libuv1-dev; run=libuv1 ;;
		zstd) dev=libzstd-dev; run=libzstd1 ;;
		xxhash) dev=libxxhash-dev; run=libxxhash0 ;;
		curl) dev=libcurl4-openssl-dev; run=libcurl4 ;;
		xml2) dev=libxml2-dev; run=libxml2 ;;
		jansson) dev=libjansson-dev; run=libjansson4 ;;
		crypto|ssl) dev=libssl-dev; run=libssl3 ;;
		pthread|m|dl|rt) continue ;;
		*) fail "tide links -l$l: docker/check.sh does not know its Debian packages" ;;
	esac
	grep -qE "(^| )$dev( |$)" docker/Dockerfile || fail "tide links -l$l, but the Dockerfile's build stage does not install $dev"
	grep -qE "(^| )$run( |$)" docker/Dockerfile || fail "tide links -l$l, but the Dockerfile's image does not install $run"
done
# every bind mount in compose.yaml exists
grep -E '^\s+- \./' docker/compose.yaml | sed -E 's/^\s+- \.\/([^:]+):.*/\1/' | while read -r p; do
	[ -e "docker/$p" ] || fail "compose.yaml mounts ./$p, which does not exist"
done
# every tide subcommand named exists in the binary we build
for c in $(grep -oE 'tide (base|stream|apply|bootstrap|verify|ls|inspect|prune|publish|status|cutover|setup|sync-sequences)' docker/compose.yaml | awk '{print $2}' | sort -u); do
	./tide "$c" --help >/dev/null 2>&1 || fail "compose.yaml runs 'tide $c', which this build does not have"
done
bash -n docker/source-init.sh || fail "source-init.sh has a syntax error"
echo "docker/check.sh: compose file, paths and commands check out"
