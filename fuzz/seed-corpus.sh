#!/usr/bin/env bash
# Seeds the fuzz corpora with the bundled scenarios: scenarios/*.toml into
# fuzz/corpus/<target>/, plus their JSON forms when python3 (tomllib) is at hand, so the
# JSON parser starts from valid scenarios too. fuzz/corpus/ is git-ignored: run this once
# before `cargo fuzz run`. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"
for target in scenario_parser whole_run; do
    mkdir -p "corpus/$target"
    cp ../scenarios/*.toml "corpus/$target/"
    if command -v python3 >/dev/null 2>&1 && python3 -c 'import tomllib' 2>/dev/null; then
        for f in ../scenarios/*.toml; do
            python3 -c 'import sys, tomllib, json; print(json.dumps(tomllib.load(open(sys.argv[1], "rb")), indent=1))' \
                "$f" >"corpus/$target/$(basename "$f" .toml).json"
        done
    fi
    echo "corpus/$target: $(ls "corpus/$target" | wc -l) seed files"
done
