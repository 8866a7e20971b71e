#!/usr/bin/env bash
# A fuzzing campaign: every target (or those named) for a number of executions or a time,
# one after the other, each with its dictionary, at the lowest CPU priority; then each
# target's executions (libFuzzer's final stats), time and crashes, and the total.
#
#   fuzz/campaign.sh [-runs=N | -max_total_time=SECONDS] [TARGET...]
#
# Default: -runs=1000000 over graph_reader set_override scenario_parser whole_run
# http_request body_decoders line_protocols party_http.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); builds the targets without sanitizer
# (`-s none`, see docs/fuzzing.md) and seeds the corpora first (seed-corpus.sh). The
# corpora (fuzz/corpus/TARGET/) carry over from campaign to campaign; crashes land in
# fuzz/artifacts/TARGET/ (git-ignored), libFuzzer's logs in fuzz/logs/TARGET.log.
# Extra libFuzzer flags: FUZZ_FLAGS="-max_len=8192". No build: NO_BUILD=1. A second
# campaign beside a running one: CAMPAIGN_TAG=b (its logs are logs/TARGET-b.log).
set -euo pipefail
cd "$(dirname "$0")"
limit="-runs=1000000"
targets=()
for a in "$@"; do
    case "$a" in
        -runs=* | -max_total_time=*) limit="$a" ;;
        -*) echo "usage: $0 [-runs=N | -max_total_time=SECONDS] [TARGET...]" >&2; exit 2 ;;
        *) targets+=("$a") ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(graph_reader set_override scenario_parser whole_run http_request body_decoders line_protocols party_http)
if [ -z "${NO_BUILD:-}" ]; then
    RUSTC_BOOTSTRAP=1 nice -n 19 cargo fuzz build -s none --no-trace-compares
fi
./seed-corpus.sh >/dev/null
bin=target/x86_64-unknown-linux-gnu/release
mkdir -p logs
total=0
total_crashes=0
printf '%-16s %12s %8s %8s %8s\n' target executions seconds exec/s crashes
for t in "${targets[@]}"; do
    dict=scenario.dict
    [ "$t" = graph_reader ] && dict=graph.dict
    case "$t" in http_request | body_decoders | line_protocols | party_http) dict=wire.dict ;; esac
    mkdir -p "artifacts/$t" "corpus/$t"
    before=$(find "artifacts/$t" -name 'crash-*' | wc -l)
    log="logs/$t${CAMPAIGN_TAG:+-$CAMPAIGN_TAG}.log"
    start=$(date +%s)
    # -error_exitcode lets a crash end this target's run without ending the campaign.
    nice -n 19 "$bin/$t" "$limit" -dict="$dict" -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" ${FUZZ_FLAGS:-} "corpus/$t" >"$log" 2>&1 || true
    secs=$(( $(date +%s) - start ))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tr -d '#' | tail -1)
    execs=${execs:-0}
    crashes=$(( $(find "artifacts/$t" -name 'crash-*' | wc -l) - before ))
    total=$(( total + execs ))
    total_crashes=$(( total_crashes + crashes ))
    printf '%-16s %12d %8d %8d %8d\n' "$t" "$execs" "$secs" $(( execs / (secs > 0 ? secs : 1) )) "$crashes"
done
printf '%-16s %12d %8s %8s %8d\n' total "$total" - - "$total_crashes"
