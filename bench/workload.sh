# bench/workload.sh - the anchors' workloads, shared by the benchmarks.
# Source it after lib.sh.  bench_schema KIND; bench_run KIND SIZE.
#   insert: SIZE transactions of 100 jsonb-heavy rows ("messages" table)
#   tpcb:   SIZE pgbench tpcb-like transactions at scale 10
#   bigtxn: one transaction of SIZE MB of rows (memory bound checks)

bench_schema() { # KIND (uses $S $SP)
	case $1 in
	insert | bigtxn)
		psql -X -q -h "$S" -p "$SP" -U postgres -d postgres -v ON_ERROR_STOP=1 -c "
		CREATE TABLE messages (id bigserial PRIMARY KEY, msg_id uuid NOT NULL,
		       topic text NOT NULL, ts timestamptz NOT NULL DEFAULT now(), username text,
		       category text, headers jsonb, body jsonb)" ;;
	tpcb)
		pgbench -q -h "$S" -p "$SP" -U postgres -i -s 10 postgres >/dev/null 2>&1 ;;
	esac
}

bench_run() { # KIND SIZE (uses $S $SP $W)
	local rows
	case $1 in
	insert | bigtxn)
		if [ "$1" = insert ]; then rows=100; else rows=$(( $2 * 1000000 / 400 )); fi
		cat >"$W/ins.sql" <<-SQL
		INSERT INTO messages (msg_id, topic, username, category, headers, body)
		SELECT gen_random_uuid(), 'org.fedoraproject.prod.bodhi.update.' || (i % 50),
		       'user' || (i % 1000), 'cat' || (i % 20),
		       jsonb_build_object('sent-at', now(), 'priority', i % 3, 'x-id', i),
		       jsonb_build_object('i', i, 'comment', md5(random()::text) || ' ' || md5(random()::text) || ' ' || md5(random()::text),
		                          'tags', jsonb_build_array('a', 'b', i), 'agent', 'bodhi', 'version', '5.7.1')
		FROM generate_series(1, $rows) i;
		SQL
		if [ "$1" = insert ]; then
			pgbench -n -h "$S" -p "$SP" -U postgres -f "$W/ins.sql" -t "$2" postgres >/dev/null
		else
			psql -X -q -h "$S" -p "$SP" -U postgres -d postgres -v ON_ERROR_STOP=1 -f "$W/ins.sql"
		fi ;;
	tpcb)
		pgbench -n -h "$S" -p "$SP" -U postgres -t "$2" postgres >/dev/null ;;
	esac
}
