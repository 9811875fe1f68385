#!/usr/bin/env bash
# The demo: a 3-manager + 2-worker lab, a replicated service of the sample app, a leader
# killed with kill -9 and the time until the swarm takes writes again, the old leader
# coming back, a rolling update to sleepy:2 while it all runs, then nothing left behind.
# (`make demo` runs the headline traffic experiment after this script.)
set -euo pipefail
BIN=${1:-bin/shoal}
IMAGES=${IMAGES_DIR:-build/images}
LAB=demo
cleanup() { "$BIN" lab down --name "$LAB" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup

echo "== lab up: 3 managers, 2 workers (heartbeat 1s)"
start=$(date +%s.%N)
"$BIN" lab up --name "$LAB" --managers 3 --workers 2 --dispatcher-heartbeat 1s
echo "lab up took $(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")s"

on() { local n=$1; shift; SHOAL_HOST="unix:///var/lib/shoal/labs/$LAB/$n/shoal.sock" "$BIN" "$@"; }

echo; echo "== node ls on manager-2"
on manager-2 node ls

echo; echo "== load sleepy:1 and sleepy:2 on every node, then run 5 replicas"
for n in manager-1 manager-2 manager-3 worker-1 worker-2; do
	on "$n" image load -q -i "$IMAGES/sleepy-1.docker.tar" >/dev/null
	on "$n" image load -q -i "$IMAGES/sleepy-2.docker.tar" >/dev/null
done
on manager-1 service create --name web --replicas 5 --update-delay 1s sleepy:1
on manager-1 service ps web

leader=$(on manager-1 node ls --format '{{if eq .ManagerStatus "Leader"}}{{.Hostname}}{{end}}' | grep . )
other=manager-1; [ "$leader" = manager-1 ] && other=manager-2
echo; echo "== kill -9 the leader ($leader) and time the first write through $other"
"$BIN" lab stop --name "$LAB" --daemon-only "$leader" >/dev/null
start=$(date +%s.%N)
until on "$other" node update --label-add demo=failover worker-1 >/dev/null 2>&1; do sleep 0.1; done
echo "the swarm took a write again after $(printf '%.2f' "$(echo "$(date +%s.%N) - $start" | bc)")s"
sleep 8
on "$other" node ls

echo; echo "== start $leader again"
"$BIN" lab start --name "$LAB" "$leader" >/dev/null
for _ in $(seq 1 50); do
	on "$other" node ls --format '{{.Hostname}} {{.ManagerStatus}}' | grep -q "^$leader Reachable" && break
	sleep 0.2
done
on "$other" node ls

echo; echo "== rolling update to sleepy:2, one task at a time"
on manager-1 service update --image sleepy:2 web
on manager-1 service ps web

echo; echo "== lab down"
"$BIN" lab down --name "$LAB"
trap - EXIT
