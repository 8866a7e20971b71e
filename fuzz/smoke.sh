#!/usr/bin/env bash
# CI smoke of the fuzz targets, without cargo-fuzz, nightly or libFuzzer's coverage:
# a plain `cargo build` of fuzz/ (libfuzzer-sys links libFuzzer's main; debug assertions
# and overflow checks on), then each target run once over every seed it has in the
# repository (bundled scenarios, Graph fixtures) and every regression input (tests/
# regressions/, fuzz/regressions/TARGET/), then a few hundred random inputs built from the
# dictionary (without coverage libFuzzer keeps no corpus, so these stay short: a cheap
# extra, the seeds are the smoke). A panic fails the smoke. Campaigns are
# fuzz/campaign.sh (docs/fuzzing.md).
#
#   fuzz/smoke.sh [RUNS]     # RUNS mutations per target, default 300
set -euo pipefail
cd "$(dirname "$0")"
runs="${1:-300}"
cargo build --quiet --bins
bin=target/debug
seeds() {
    case "$1" in
        scenario_parser | whole_run) ls ../scenarios/*.toml ../tests/regressions/* ;;
        set_override) ls ../scenarios/*.toml ../tests/regressions/* regressions/set_override/* ;;
        graph_reader) ls ../tests/fixtures/graph/*.json ../tests/fixtures/graph/bad/*.json \
            regressions/graph_reader/* 2>/dev/null ;;
        http_request | body_decoders | line_protocols | party_http) ls seeds/"$1"/* regressions/"$1"/* 2>/dev/null ;;
    esac
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in scenario_parser whole_run set_override graph_reader http_request body_decoders line_protocols party_http; do
    mapfile -t files < <(seeds "$t")
    start=$(date +%s)
    # Each file once (libFuzzer runs file arguments and exits, non-zero on a crash).
    "$bin/$t" "${files[@]}" >"$work/$t.log" 2>&1 || { cat "$work/$t.log"; exit 1; }
    # Random inputs, from a scratch copy of the seeds so nothing is written here.
    mkdir "$work/$t"
    cp "${files[@]}" "$work/$t/"
    dict=scenario.dict
    [ "$t" = graph_reader ] && dict=graph.dict
    case "$t" in http_request | body_decoders | line_protocols | party_http) dict=wire.dict ;; esac
    "$bin/$t" -runs="$runs" -seed=1 -dict="$dict" -artifact_prefix="$work/" "$work/$t" \
        >>"$work/$t.log" 2>&1 || { tail -40 "$work/$t.log"; exit 1; }
    echo "fuzz smoke $t: ${#files[@]} seed and regression files, $runs mutations, $(( $(date +%s) - start ))s"
done
