#!/usr/bin/env bash
# demo/demo.sh - the main job end to end on throwaway local clusters:
# a message-bus archive source under a live workload, tide stream into
# 10-second segments, tide apply --follow --schema follow into a replica,
# a new day's partition created on the source mid-demo (it replicates with
# no operator action), then, with writes stopped, tide cutover (sequences,
# marker, verify) and a summary with the cutover time.  Exits non-zero if
# anything is wrong.
#
# Run by `make demo` (which builds first).  As root, the clusters run as
# the postgres OS user.  Work files go to $TIDE_DEMO_DIR (/tmp/tide-demo).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
. "$here/../bench/lib.sh"
TIDE=$TIDE_ROOT/tide
W=${TIDE_DEMO_DIR:-/tmp/tide-demo}
S=$W/source; R=$W/replica; SP=56470; RP=56471
SEGS=$W/segments
DURATION=${TIDE_DEMO_SECONDS:-20}

say() { printf '\n== %s\n' "$*"; }
fail() { echo "demo: FAILED: $*" >&2; exit 1; }
src() { psql -X -q -h "$S" -p $SP -U postgres -d archive -v ON_ERROR_STOP=1 "$@"; }
rep() { psql -X -q -h "$R" -p $RP -U postgres -d archive -v ON_ERROR_STOP=1 "$@"; }
SRC_CONN="host=$S port=$SP user=postgres dbname=archive"
REP_CONN="host=$R port=$RP user=postgres dbname=archive"

[ -x "$TIDE" ] && [ -f "$TIDE_ROOT/decoder/tide.so" ] || fail "build first: make"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	pg_down "$S"; pg_down "$R"
}
trap cleanup EXIT
rm -rf "$W"; mkdir -p "$W"; [ "$(id -u)" = 0 ] && chown postgres "$W"

say "starting a source and a replica cluster in $W"
pg_up "$S" $SP "max_slot_wal_keep_size = 1GB"
pg_up "$R" $RP
as_pg createdb -h "$S" -p $SP archive
as_pg createdb -h "$R" -p $RP archive

say "source schema: users, packages, and messages partitioned by day (jsonb)"
src <<'SQL'
CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, email text, created timestamptz DEFAULT now(), karma int DEFAULT 0);
CREATE TABLE packages (name text PRIMARY KEY, owner int REFERENCES users, description text, versions jsonb);
CREATE TABLE messages (id bigint GENERATED ALWAYS AS IDENTITY, sent date NOT NULL, topic text NOT NULL,
                       username text, headers jsonb, body jsonb, PRIMARY KEY (id, sent)) PARTITION BY RANGE (sent);
DO $$ BEGIN
  FOR d IN -3..3 LOOP
    EXECUTE format('CREATE TABLE messages_%s PARTITION OF messages FOR VALUES FROM (%L) TO (%L)',
                   to_char(current_date + d, 'YYYYMMDD'), current_date + d, current_date + d + 1);
  END LOOP;
END $$;
SQL
say "initial data on the source"
src <<'SQL'
INSERT INTO users (id, name, email) SELECT g, 'user' || g, 'user' || g || '@example.org' FROM generate_series(1, 2000) g;
INSERT INTO packages SELECT 'pkg' || g, 1 + g % 2000, repeat('a package ', 20),
       jsonb_build_array(jsonb_build_object('v', '1.0.' || g, 'released', now()))
  FROM generate_series(1, 500) g;
INSERT INTO messages (sent, topic, username, headers, body)
SELECT current_date - (g % 3), 'org.example.prod.build.' || (g % 40), 'user' || (1 + g % 2000),
       jsonb_build_object('x-id', g, 'priority', g % 3),
       jsonb_build_object('comment', md5(g::text), 'tags', jsonb_build_array('a', g))
  FROM generate_series(1, 20000) g;
SQL

say "a live workload on the source for ${DURATION}s (new messages, karma updates, package releases, pruning)"
cat >"$W/workload.sql" <<'SQL'
\set u random(1, 2000)
\set p random(1, 500)
BEGIN;
INSERT INTO messages (sent, topic, username, headers, body)
SELECT current_date, 'org.example.prod.bus.' || (:u % 40), 'user' || :u,
       jsonb_build_object('x-id', g, 'sent-at', now()), jsonb_build_object('n', g, 'text', md5(random()::text))
  FROM generate_series(1, 5) g;
UPDATE users SET karma = karma + 1 WHERE id = :u;
UPDATE packages SET versions = versions || jsonb_build_object('v', '2.' || :u, 'released', now()) WHERE name = 'pkg' || :p;
DELETE FROM messages WHERE sent = current_date - 2 AND id IN (SELECT id FROM messages WHERE sent = current_date - 2 LIMIT 2);
COMMIT;
SQL
as_pg pgbench -n -h "$S" -p $SP -U postgres -c 2 -T "$DURATION" -f "$W/workload.sql" archive >"$W/pgbench.log" 2>&1 &
pgbench_pid=$!
pids+=($pgbench_pid)
sleep 2

say "tide base: the slot and a consistent dump, while the workload runs"
"$TIDE" base -d "$SRC_CONN" -S tide_demo -D "$SEGS" -j 2 2>"$W/base.log" || { cat "$W/base.log"; fail "tide base failed"; }
grep -E 'LOG' "$W/base.log" | tail -2 | cut -c1-200

say "tide stream: 10-second segments into $SEGS, from the base's consistent point"
"$TIDE" stream -d "$SRC_CONN" -S tide_demo -D "$SEGS" --bucket 10s \
	--flush-interval 500ms --status-interval 10s 2>"$W/stream.log" &
pids+=($!)
for _ in $(seq 100); do ls "$SEGS"/*.tseg* >/dev/null 2>&1 && break; sleep 0.1; done
ls "$SEGS"/*.tseg* >/dev/null 2>&1 || { cat "$W/stream.log"; fail "the streamer wrote no segment"; }
sleep 2

say "tide bootstrap: the empty replica from the base plus the segments so far"
t_boot0=$(now)
"$TIDE" bootstrap -d "$REP_CONN" -D "$SEGS" -j 2 2>"$W/bootstrap.log" || { cat "$W/bootstrap.log"; fail "tide bootstrap failed"; }
boot_secs=$(el "$t_boot0" "$(now)")
grep -E 'done:' "$W/bootstrap.log" | cut -c1-160

say "tide apply --follow --schema follow: keeping the replica current, new partitions included"
"$TIDE" apply -d "$REP_CONN" -D "$SEGS" --follow --schema follow 2>"$W/apply.log" &
apply_pid=$!
pids+=($apply_pid)

sleep 2
# the time-decay pattern: tomorrow's tomorrow gets its partition while rows flow
newday=$(src -Atc "SELECT to_char(current_date + 4, 'YYYYMMDD')")
say "a new day on the source: partition messages_$newday, created and filled mid-demo"
src <<SQL
CREATE TABLE messages_$newday PARTITION OF messages FOR VALUES FROM (current_date + 4) TO (current_date + 5);
INSERT INTO messages (sent, topic, username, headers, body)
SELECT current_date + 4, 'org.example.prod.newday', 'user' || g, jsonb_build_object('x-id', g), jsonb_build_object('n', g)
  FROM generate_series(1, 500) g;
SQL

wait $pgbench_pid || { cat "$W/pgbench.log"; fail "the workload failed"; }
src_txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$W/pgbench.log")
echo "workload committed $src_txns transactions; writes stopped"

say "tide cutover: writes are stopped; sequences, a marker, wait for stream and apply, verify"
t_cut0=$(now)
"$TIDE" cutover -s "$SRC_CONN" -d "$REP_CONN" -D "$SEGS" --timeout 60s 2>"$W/cutover.err" | tee "$W/cutover.log" ||
	{ cat "$W/cutover.err"; tail "$W/apply.log"; fail "tide cutover did not find the replica equal"; }
cut_wall=$(el "$t_cut0" "$(now)")
cut_secs=$(sed -n 's/^replica is equal; promote it (\([0-9.]*\) s from start to equal)$/\1/p' "$W/cutover.log")
[ -n "$cut_secs" ] || fail "tide cutover did not say the replica is equal"
newday_rows=$(rep -Atc "SELECT count(*) FROM messages_$newday") || fail "the new day's partition did not replicate"
[ "$newday_rows" = 500 ] || fail "the new day's partition has $newday_rows rows on the replica, not 500"
echo "the new day's partition messages_$newday is on the replica with its $newday_rows rows"

kill -TERM $apply_pid; wait $apply_pid || fail "tide apply did not stop cleanly"
"$TIDE" ls "$SEGS" >"$W/ls.log" || { cat "$W/ls.log"; fail "tide ls found damage"; }

say "summary"
nseg=$(($(wc -l <"$W/ls.log") - 1))
bytes=$(cat "$SEGS"/*.tseg* | wc -c)
changes=$("$TIDE" ls --json "$SEGS" | sed -n 's/.*"changes":\([0-9]*\).*/\1/p' | paste -sd+ | bc)
txns=$("$TIDE" ls --json "$SEGS" | sed -n 's/.*"transactions":\([0-9]*\).*/\1/p' | paste -sd+ | bc)
printf '  segments written     %d (10-second buckets)\n' "$nseg"
printf '  bytes on disk        %d (%.1f bytes per change)\n' "$bytes" "$(echo "$bytes / $changes" | bc -l)"
printf '  transactions         %d, changes %d\n' "$txns" "$changes"
printf '  bootstrap            %.2f s (restore of the base, then the segments so far)\n' "$boot_secs"
printf '  new day partition    messages_%s created mid-demo, %d rows replicated (--schema follow)\n' "$newday" "$newday_rows"
printf '  cutover              %.2f s from writes stopped to "replica is equal" (tide cutover, %.2f s wall)\n' "$cut_secs" "$cut_wall"
grep '^cutover: ' "$W/cutover.log" | sed 's/^cutover: /    /'
grep '^verify:' "$W/cutover.log" | sed 's/^/  /'
grep -E 'stopped:' "$W/apply.log" | sed 's/^/  apply: /' | cut -c1-200
echo
echo "demo: OK"
