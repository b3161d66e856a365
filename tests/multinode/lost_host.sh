#!/usr/bin/env bash
# A lost host (its link goes down mid-epoch, the most common fault at scale) ends an
# mpirun job promptly and non-zero, with the checkpoints intact; once the host is
# back, or on fewer hosts, --resume latest continues. Two namespace hosts
# (cluster/netns, whose mpirun settings include oob_tcp_keepalive values that let
# mpirun notice a silent daemon within about 11 s and end the job itself).
# --collective-timeout 30 is longer than that, as it must be: a rank that gives up
# first makes mpirun send to the lost daemon, and a connection with unsent data
# gets no keepalives, only TCP's retransmissions (15 min), so mpirun would hang.
source "$(dirname "$0")/lib.sh" "$@"
netns_test_begin dnlost
"$NETNS/up.sh" 2 >/dev/null

args=(--data "$DATA" --hidden 256,256 --batch-size 128 --seed 2 --epochs 3 --threads 1 --collective-timeout 30
      --checkpoint-dir "$TMP/ckpt")
now() { date +%s.%N; }
newest_checkpoint() { ls "$1"/ckpt-*.pb | sort | tail -n 1; }
( set +e; timeout -k 5 240 "$NETNS/run.sh" -np 2 "$BIN/digitnet-train" "${args[@]}" >"$TMP/run.log" 2>&1
  echo "$? $(now)" >"$TMP/run.end" ) &
job=$!
for _ in $(seq 600); do compgen -G "$TMP/ckpt/ckpt-*.pb" >/dev/null && break; sleep 0.1; done
compgen -G "$TMP/ckpt/ckpt-*.pb" >/dev/null || { cat "$TMP/run.log" >&2; fail "no checkpoint after 60 s"; }
sleep 1  # mid-epoch 2
down_at=$(now)
ip -n "dnlost$$-h2" link set eth0 down
wait "$job"
read -r status end_at <"$TMP/run.end"
took=$(/usr/bin/python3 -c "print(f'{$end_at - $down_at:.1f}')")
[[ $status != 0 ]] || fail "the job exited 0 after host 2 was lost"
/usr/bin/python3 -c "import sys; sys.exit(0 if $took <= 60 else 1)" ||
  { cat "$TMP/run.log" >&2; fail "the job took $took s to end after host 2 was lost (limit: the 30 s timeout + 30 s)"; }
grep -q "ORTE has lost communication with a remote daemon" "$TMP/run.log" ||
  { cat "$TMP/run.log" >&2; fail "mpirun did not say it lost the daemon of host 2"; }
newest=$(newest_checkpoint "$TMP/ckpt")
score "$newest" --data "$DATA" >/dev/null || fail "newest checkpoint $newest does not verify"
pass "host 2 lost mid-epoch: mpirun ended in $took s with status $status; $(basename "$newest") verifies"

step=$((10#$(basename "$newest" .pb | cut -d- -f2)))
ip -n "dnlost$$-h2" link set eth0 up
timeout -k 5 120 "$NETNS/run.sh" -np 2 "$BIN/digitnet-train" "${args[@]}" --resume latest --max-steps $((step + 20)) \
  --quiet >"$TMP/back.log" 2>&1 || { cat "$TMP/back.log" >&2; fail "resume on both hosts failed"; }
[[ -f $TMP/ckpt/$(printf 'ckpt-%08d.pb' $((step + 20))) ]] || fail "resume on both hosts did not reach step $((step + 20))"
timeout -k 5 120 "$NETNS/run.sh" -np 1 "$BIN/digitnet-train" "${args[@]}" --resume latest --max-steps $((step + 40)) \
  --quiet >"$TMP/one.log" 2>&1 || { cat "$TMP/one.log" >&2; fail "resume on one host failed"; }
[[ -f $TMP/ckpt/$(printf 'ckpt-%08d.pb' $((step + 40))) ]] || fail "resume on one host did not reach step $((step + 40))"
pass "resumed from step $step with the host back (2 ranks), then on one host: steps $((step + 20)) and $((step + 40))"
