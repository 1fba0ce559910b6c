#!/usr/bin/env bash
# make scale: every figure of the README's "At scale" section, taken again
# with one command (issue 25). Not part of `make test`: on a 2-core machine
# it runs for well over an hour (SCALE_SOAK, the memory run, is an hour per
# database by default).
#
# It starts a PostgreSQL cluster of its own (default settings but
# shared_buffers, SCALE_PG_OPTS), seeds a large and a small database on it
# and on SQLite, starts one service per database from the same build, and
# runs, each in 3 interleaved rounds where it compares (min/median/max):
#   1. seeding time (gatehouse-bench seed);
#   2. me, refresh and login on the large database over the small one
#      (compare with two -url), service and PostgreSQL CPU per operation;
#   3. the operator paths on the large database (admin search by email and
#      by name, deep pages, one account, its events, a user's sessions);
#   4. CPU per refresh and login, service and PostgreSQL, beside the floors
#      at the same rate (gatehouse-bench cost, on an instance with a cheap
#      password hash so login's cost outside argon2id is measurable);
#   5. RSS after a mixed run of SCALE_SOAK on each size;
#   6. refresh p99 quiet and during the purge of the large database;
#   7. the mail claim's plan with 100,000 failed messages around;
#   8. the migration lock test on a database of SCALE_ACCOUNTS accounts.
# Everything lands in SCALE_OUT (default ./scale-out), the summary in
# SCALE_OUT/summary.txt. Variables:
#   SCALE_ACCOUNTS (1000000)   the large database
#   SCALE_SMALL (1000)         the small database
#   SCALE_SQLITE_ACCOUNTS (1000000) SQLite's large database
#   SCALE_ROUNDS (3) SCALE_DURATION (10s) SCALE_WARMUP (2s) SCALE_WORKERS (8) SCALE_USERS (256)
#   SCALE_SOAK (1h)            each memory run
#   SCALE_PORT (55440)         the cluster's port, services on the next five (the next
#                              free block of seven when taken)
#   SCALE_PG_OPTS              extra postgres -c settings (default shared_buffers=2GB)
#   SCALE_STEPS                which steps to run (default "seed sizes operators cost memory purge outbox locks")
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(realpath -m "${SCALE_OUT:-$root/scale-out}")
large=${SCALE_ACCOUNTS:-1000000}
small=${SCALE_SMALL:-1000}
sqlite_large=${SCALE_SQLITE_ACCOUNTS:-1000000}
rounds=${SCALE_ROUNDS:-3}
duration=${SCALE_DURATION:-10s}
warmup=${SCALE_WARMUP:-2s}
workers=${SCALE_WORKERS:-8}
users=${SCALE_USERS:-256}
soak=${SCALE_SOAK:-1h}
port=${SCALE_PORT:-55440}
pg_opts=${SCALE_PG_OPTS:--c shared_buffers=2GB}
steps=${SCALE_STEPS:-seed sizes operators cost memory purge outbox locks}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

# A block of seven free ports from SCALE_PORT on: the cluster and the services.
busy() { for i in 0 1 2 3 4 5 6; do ss -Hltn "sport = :$(($1 + i))" | grep -q . && return 0; done; return 1; }
while busy "$port"; do port=$((port + 10)); done

mkdir -p "$out"
bin="$out/bin"
summary="$out/summary.txt"
log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$out/scale.log" >&2; }
step() { [[ " $steps " == *" $1 "* ]]; }
note() { printf '%s\n' "$*" >>"$summary"; }

log "building into $bin"
(cd "$root" && go build -o "$bin/gatehouse" ./cmd/gatehouse && go build -o "$bin/gatehouse-bench" ./cmd/gatehouse-bench)
bench="$bin/gatehouse-bench"

# The cluster: as the postgres user when run as root, like internal/pgtest.
pgdir="$out/pg"
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
pids=()
stop_all() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -f "$pgdir/data/postmaster.pid" ] && as_pg "$bindir/pg_ctl -D $pgdir/data -m fast stop" >/dev/null 2>&1 || true
}
trap stop_all EXIT
rm -rf "$pgdir" && mkdir -p "$pgdir/sock"
[ "$(id -u)" = 0 ] && chown -R postgres "$pgdir" && chmod 755 "$out"
as_pg "$bindir/initdb -D $pgdir/data -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >"$out/initdb.log" 2>&1
as_pg "$bindir/pg_ctl -D $pgdir/data -l $pgdir/postgres.log -w -o \"-p $port -k $pgdir/sock -c listen_addresses=127.0.0.1 $pg_opts\" start" >/dev/null
pgurl() { echo "postgres://postgres@127.0.0.1:$port/$1?sslmode=disable"; }
for db in large small cost locks; do
	"$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE $db" postgres
done

: >"$summary"
note "# gatehouse make scale, $(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$root" rev-parse --short HEAD)"
note "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $("$bindir/postgres" --version); settings: $pg_opts"
note "load at start: $(uptime)"

seed() { # name url accounts [extra flags]
	local name=$1 url=$2 n=$3; shift 3
	log "seeding $name ($n accounts)"
	"$bench" seed -database-url "$url" -accounts "$n" -manifest "$out/$name.json" "$@" >"$out/seed-$name.txt" 2>"$out/seed-$name.log"
	note "seed $name: $(head -1 "$out/seed-$name.txt")"
}
if step seed; then
	note ""
	note "## 1. seeding"
	seed pg-large "$(pgurl large)" "$large"
	seed pg-small "$(pgurl small)" "$small"
	seed cost "$(pgurl cost)" "$small" -argon2-memory 64 -argon2-iterations 1
	rm -f "$out"/sqlite-*.db*
	seed sqlite-large "sqlite://$out/sqlite-large.db" "$sqlite_large"
	seed sqlite-small "sqlite://$out/sqlite-small.db" "$small"
fi

# One service per database, the same build, settings as `make run` would
# give them for a benchmark (no per-IP budget) and no purge of their own.
declare -A url pid
start() { # name port database-url [VAR=value...]
	local name=$1 p=$2 db=$3; shift 3
	env -i PATH="$PATH" HOME="$out" HTTP_ADDR="127.0.0.1:$p" DATABASE_URL="$db" RATE_LIMIT_PER_IP=0 LOG_LEVEL=warn \
		SESSION_PURGE_INTERVAL=10000h COOKIE_SECURE=false CONFIG_FILE= "$@" "$bin/gatehouse" >"$out/service-$name.log" 2>&1 &
	pid[$name]=$!
	pids+=($!)
	url[$name]="http://127.0.0.1:$p"
	for _ in $(seq 1 600); do curl -sf "${url[$name]}/readyz" >/dev/null && return 0; sleep 0.5; done
	log "$name did not become ready"; return 1
}
start pg-large $((port + 1)) "$(pgurl large)"
start pg-small $((port + 2)) "$(pgurl small)"
start cost $((port + 3)) "$(pgurl cost)" PASSWORD_ARGON2_MEMORY=64KiB PASSWORD_ARGON2_ITERATIONS=1
start sqlite-large $((port + 4)) "sqlite://$out/sqlite-large.db"
start sqlite-small $((port + 5)) "sqlite://$out/sqlite-small.db"

common=(-concurrency "$workers" -duration "$duration" -warmup "$warmup" -rounds "$rounds")
if step sizes; then
	note ""
	note "## 2. size independence: me, refresh, login at $workers workers, $large over $small accounts"
	log "sizes (PostgreSQL)"
	"$bench" compare -url "large=${url[pg-large]}" -url "small=${url[pg-small]}" -pid "${pid[pg-large]}" -pid "${pid[pg-small]}" \
		-manifest "$out/pg-large.json" -manifest "$out/pg-small.json" -database-url "$(pgurl large)" -users "$users" "${common[@]}" \
		-json "$out/sizes-pg.json" >"$out/sizes-pg.txt" 2>"$out/sizes-pg.log"
	note "PostgreSQL (uptime at the end: $(uptime))"; cat "$out/sizes-pg.txt" >>"$summary"
	log "sizes (SQLite, $sqlite_large over $small accounts)"
	"$bench" compare -url "large=${url[sqlite-large]}" -url "small=${url[sqlite-small]}" -pid "${pid[sqlite-large]}" -pid "${pid[sqlite-small]}" \
		-manifest "$out/sqlite-large.json" -manifest "$out/sqlite-small.json" -users "$users" "${common[@]}" \
		-json "$out/sizes-sqlite.json" >"$out/sizes-sqlite.txt" 2>"$out/sizes-sqlite.log"
	note ""; note "SQLite, $sqlite_large over $small accounts (uptime at the end: $(uptime))"; cat "$out/sizes-sqlite.txt" >>"$summary"
fi

operators=admin-search-email,admin-search-name,admin-page,admin-user,admin-events,sessions
if step operators; then
	note ""
	note "## 3. operator paths, 2 workers (an admin console, not a load test)"
	for name in pg-large sqlite-large pg-small; do
		log "operators on $name"
		dbflag=()
		[ "$name" = pg-large ] && dbflag=(-database-url "$(pgurl large)")
		[ "$name" = pg-small ] && dbflag=(-database-url "$(pgurl small)")
		for r in $(seq 1 "$rounds"); do
			"$bench" -url "$name=${url[$name]}" -pid "${pid[$name]}" -manifest "$out/$name.json" "${dbflag[@]}" -users 64 -concurrency 2 \
				-duration "$duration" -warmup "$warmup" -scenarios "$operators" -json "$out/operators-$name-$r.json" \
				>"$out/operators-$name-$r.txt" 2>"$out/operators-$name-$r.log"
		done
		note "$name: p99 per round (ms), uptime $(uptime)"
		"$bench" summary "$out"/operators-"$name"-*.json >>"$summary"
	done
fi

if step cost; then
	note ""
	note "## 4. CPU per operation (instance with a 64 KiB, 1-pass argon2id so login's other costs show)"
	log "cost"
	"$bench" cost -url "cost=${url[cost]}" -pid "${pid[cost]}" -manifest "$out/cost.json" -database-url "$(pgurl cost)" \
		-argon2-memory 64 -argon2-iterations 1 -users 64 "${common[@]}" -json "$out/cost.json.out" >"$out/cost.txt" 2>"$out/cost.log"
	note "uptime at the end: $(uptime)"
	sed -n '/CPU PER OPERATION/,$p' "$out/cost.txt" >>"$summary"
fi

if step memory; then
	note ""
	note "## 5. memory after a mixed run of $soak (RSS of the service)"
	for name in pg-small pg-large; do
		log "memory on $name for $soak"
		"$bench" -url "$name=${url[$name]}" -pid "${pid[$name]}" -manifest "$out/$name.json" -users "$users" -concurrency "$workers" \
			-duration "$soak" -warmup "$warmup" -scenarios mixed -json "$out/memory-$name.json" >"$out/memory-$name.txt" 2>"$out/memory-$name.log"
		note "$name: $(grep -m1 '^memory' "$out/memory-$name.txt"); VmRSS after: $(awk '/VmRSS/ {print $2, $3}' "/proc/${pid[$name]}/status")"
	done
fi

if step purge; then
	note ""
	note "## 6. refresh during the purge (ended sessions and events past retention of the large databases)"
	for name in pg-large sqlite-large; do
		db=$(pgurl large)
		[ "$name" = sqlite-large ] && db="sqlite://$out/sqlite-large.db"
		log "purge on $name"
		"$bench" purge -url "$name=${url[$name]}" -pid "${pid[$name]}" -manifest "$out/$name.json" -database-url "$db" \
			-users "$users" -concurrency "$workers" -duration "$duration" -warmup "$warmup" -json "$out/purge-$name.json" \
			>"$out/purge-$name.txt" 2>"$out/purge-$name.log"
		note "$name: $(grep '^purge:' "$out/purge-$name.txt") (uptime $(uptime))"
	done
fi

if step outbox; then
	note ""
	note "## 7. the mail claim with $(grep -o '"mail_outbox": [0-9]*' "$out/pg-large.json" | grep -o '[0-9]*$') messages, failed ones but 100 (PostgreSQL, large)"
	# The claim's statement (adapter/persistence MailOutbox.Claim), rolled back.
	"$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d large -c "BEGIN" -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
		UPDATE mail_outbox SET locked_until = 0, attempts = attempts + 1 WHERE id IN (SELECT id FROM mail_outbox WHERE status = 'pending'
		AND next_attempt_at <= (extract(epoch FROM now()) * 1000)::bigint AND locked_until <= 0 ORDER BY next_attempt_at LIMIT 20 FOR UPDATE SKIP LOCKED)" \
		-c "ROLLBACK" >"$out/outbox.txt" 2>&1
	cat "$out/outbox.txt" >>"$summary"
fi

if step locks; then
	note ""
	note "## 8. every migration applied to $large accounts (time and write-blocking locks)"
	log "migration lock test on $large accounts"
	(cd "$root" && SCALE_LOCK_DATABASE_URL="$(pgurl locks)" SCALE_LOCK_ACCOUNTS="$large" \
		go test -count=1 -timeout 3h -v -run '^TestMigrationLocks$' ./internal/scale/) >"$out/locks.txt" 2>&1 || true
	sed -n '/migrations applied/,/^--- /p' "$out/locks.txt" >>"$summary"
fi

note ""
note "load at the end: $(uptime)"
log "done: $summary"
cat "$summary"
