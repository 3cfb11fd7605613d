#!/usr/bin/env bash
# Measures the mqttdiag binary end to end: lines/s, peak RSS and start-up
# (load and compile, on an empty input) of `mqttdiag scan`, with the
# built-in pack and with the 2,021-signature corpus forced into the
# Mosquitto scope, on generated Mosquitto logs. Each figure is the median
# of RUNS runs. Writes a table to stdout and to $DIR/bench-scan.txt.
#
#   scripts/bench-scan.sh [LINES,...]     default 1000000
#   RUNS=5 MQTTDIAG_BENCH_DIR=/tmp/b scripts/bench-scan.sh 1000000,15000000
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-1000000}
RUNS=${RUNS:-3}
DIR=${MQTTDIAG_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mqttdiag-bench} # as os.UserCacheDir
export MQTTDIAG_BENCH_DIR=$DIR
BIN=bin/mqttdiag
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench-scan: needs GNU time (apt-get install time)" >&2; exit 1; }

CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN" ./cmd/mqttdiag # as `make build` and the image
mapfile -t paths < <(go run ./internal/testutil/loggen/cmd/benchdata -dir "$DIR" -lines "$LINES")
corpus=${paths[-1]}
unset 'paths[-1]'
empty=$DIR/empty.log
: >"$empty"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# run FILE ARGS... -> prints "seconds maxrss_kb" of one scan (wall time
# from date, to the millisecond; GNU time's %e has 10 ms steps)
run() {
  local f=$1; shift
  local t0 t1
  t0=$(date +%s%N)
  $TIME -f '%M' -o "$DIR/time.out" "$BIN" scan --log-level warn --broker mosquitto "$@" "$f" >/dev/null
  t1=$(date +%s%N)
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}') $(cat "$DIR/time.out")"
}

out=$DIR/bench-scan.txt
{
  echo "# $(date -u +%FT%TZ) $(go version | cut -d' ' -f3-) $(nproc) cores, RUNS=$RUNS, median of runs"
  printf '%-16s %-26s %12s %10s %10s\n' pack input lines/s seconds maxRSS_MB
  for pack in builtin corpus; do
    args=()
    [ $pack = corpus ] && args=(--signatures "$corpus")
    for f in "$empty" "${paths[@]}"; do
      n=$(wc -l <"$f")
      secs=(); rss=()
      for ((i = 0; i < RUNS; i++)); do
        read -r s r < <(run "$f" "${args[@]}")
        secs+=("$s"); rss+=("$r")
      done
      s=$(printf '%s\n' "${secs[@]}" | median)
      r=$(printf '%s\n' "${rss[@]}" | median)
      if [ "$n" -gt 0 ]; then lps=$(awk -v n="$n" -v s="$s" 'BEGIN {printf "%.0f", n / s}'); else lps="(start-up)"; fi
      printf '%-16s %-26s %12s %10s %10.1f\n' "$pack" "$(basename "$f")" "$lps" "$s" "$(awk -v r="$r" 'BEGIN {print r / 1024}')"
    done
  done
} | tee "$out"
