#!/usr/bin/env bash
# Seeds the fuzz corpora (fuzz/corpus/<target>/, git-ignored; run this once before
# `cargo fuzz run` or fuzz/campaign.sh). Idempotent.
# - scenario_parser, whole_run: the bundled scenarios/*.toml, plus their JSON forms when
#   python3 (tomllib) is at hand, so the JSON parser starts from valid scenarios too;
# - set_override: the bundled scenarios (their lines become --set arguments), plus the
#   --set lines of tests/regressions/ and a few overrides of every kind of value;
# - graph_reader: the Microsoft Graph fixtures of tests/fixtures/graph/ (good and bad),
#   and the directory form: the files of tests/fixtures/graph/dir/ joined by NUL bytes;
# - http_request, body_decoders, line_protocols: fuzz/seeds/TARGET/ (written by
#   crates/protocol/tests/wire.rs's ignored write_fuzz_seeds); party_http: fuzz/seeds/party_http/
#   (written by tests/party_http.rs's ignored write_fuzz_seeds).
set -euo pipefail
cd "$(dirname "$0")"
have_tomllib() { command -v python3 >/dev/null 2>&1 && python3 -c 'import tomllib' 2>/dev/null; }
for target in scenario_parser whole_run set_override; do
    mkdir -p "corpus/$target"
    cp ../scenarios/*.toml "corpus/$target/"
    if [ "$target" != set_override ] && have_tomllib; then
        for f in ../scenarios/*.toml; do
            python3 -c 'import sys, tomllib, json; print(json.dumps(tomllib.load(open(sys.argv[1], "rb")), indent=1))' \
                "$f" >"corpus/$target/$(basename "$f" .toml).json"
        done
    fi
done
printf '%s\n' 'identity.model=phs' 'run.duration=2h' 'clients.0.location=external' \
    'entra.access_token_lifetime=1h' 'conditional_access=[{name = "mfa", grant = ["mfa"]}]' \
    'network.latency_ms=40' 'seed=7' >corpus/set_override/seed-sets.txt
mkdir -p corpus/graph_reader
for f in ../tests/fixtures/graph/*.json ../tests/fixtures/graph/bad/*.json; do
    case "$f" in */bad/*) name="bad-$(basename "$f")" ;; *) name="$(basename "$f")" ;; esac
    cp "$f" "corpus/graph_reader/$name"
done
first=1
for f in ../tests/fixtures/graph/dir/*.json; do
    if [ $first = 0 ]; then printf '\0'; fi
    cat "$f"
    first=0
done >corpus/graph_reader/dir-joined.json
for target in http_request body_decoders line_protocols party_http; do
    mkdir -p "corpus/$target"
    cp seeds/"$target"/* "corpus/$target/"
done
for target in scenario_parser whole_run set_override graph_reader http_request body_decoders line_protocols party_http; do
    echo "corpus/$target: $(ls "corpus/$target" | wc -l) seed files"
done
