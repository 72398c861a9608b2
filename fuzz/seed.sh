#!/bin/sh
# Seeds fuzz/corpus/<target>/ (git-ignored) for `cargo fuzz run <target>`:
#   - captured batches from testdata/batches (batch_rewrite gets a knob byte first),
#   - the kept, minimized corpus and crash inputs from testdata/fuzz/<target>/
#     (except upstream-*); for internal_records that includes the seed-* inputs
#     built from testdata/mm2 (run it with -dict=internal_records.dict),
#   - hand-made frames, responses, batches and legacy messages from
#     kmirror_protocol::fuzzing::seeds() (examples/generate_seeds.rs).
set -eu
cd "$(dirname "$0")"
testdata=../testdata
targets="frame_decode response_decode batch_split batch_rewrite record_decode internal_records"
for t in $targets; do
    mkdir -p "corpus/$t"
    # upstream-* inputs crash inside a dependency (see testdata/fuzz/README.md);
    # they would stop every run at once, so they stay out of the corpus.
    for f in "$testdata/fuzz/$t"/*; do
        case "$(basename "$f")" in
            upstream-*) ;;
            *) if [ -f "$f" ]; then cp "$f" "corpus/$t/"; fi ;;
        esac
    done
done
for f in "$testdata"/batches/*.bin; do
    name=$(basename "$f" .bin)
    cp "$f" "corpus/batch_split/$name"
    cp "$f" "corpus/record_decode/$name"
    for knob in 00 01 07; do
        { printf "\\$(printf '%03o' "0x$knob")"; cat "$f"; } > "corpus/batch_rewrite/$name-$knob"
    done
    # A fetch-response-like blob: the batch twice, then a truncated copy.
    { cat "$f" "$f"; head -c 100 "$f"; } > "corpus/batch_split/$name-x2-tail"
done
cargo run --quiet --release --example generate_seeds -- corpus
for t in $targets; do
    echo "$t: $(ls "corpus/$t" | wc -l) inputs"
done
