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
# every bind mount in compose.yaml exists
grep -E '^\s+- \./' docker/compose.yaml | sed -E 's/^\s+- \.\/([^:]+):.*/\1/' | while read -r p; do
	[ -e "docker/$p" ] || fail "compose.yaml mounts ./$p, which does not exist"
done
# every tide subcommand named exists in the binary we build
for c in $(grep -oE 'tide (base|stream|apply|bootstrap|verify|ls|inspect|prune)' docker/compose.yaml | awk '{print $2}' | sort -u); do
	./tide "$c" --help >/dev/null 2>&1 || fail "compose.yaml runs 'tide $c', which this build does not have"
done
bash -n docker/source-init.sh || fail "source-init.sh has a syntax error"
echo "docker/check.sh: compose file, paths and commands check out"
