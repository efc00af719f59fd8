# perflab's front door. `just` lists the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

default:
    @just --list

# Run a lab: `just lab bulk-insert`, `just lab lock-contention --quick`, `just lab serialization --db postgres`
lab name *args:
    cargo build --release -p reference-app -p perflab
    ./target/release/perflab lab {{name}} {{args}}

# Measure any URL (or two, for an A/B verdict): `just run http://127.0.0.1:8080/store/k --rate 2000`
run *args:
    cargo build --release -p perflab
    ./target/release/perflab run {{args}}

# Start the reference service (SQLite in ./data by default); see `just serve --help`
serve *args:
    cargo run --release -p reference-app -- {{args}}

# Everything CI checks: set-up, formatting, lints, unit and integration tests (starts real
# PostgreSQL and Redis). Two test threads: the end-to-end tests start real servers on 2 cores.
test: setup lint
    cargo build --workspace --bins
    RUST_TEST_THREADS=2 cargo test --workspace

# Rewrite reference-app/openapi.json from the handlers' annotations (a test checks it is current)
openapi:
    PERFLAB_UPDATE_OPENAPI=1 cargo test -p reference-app --test openapi the_served_description_is_the_committed_one

# The OpenAPI fuzz alone (schemathesis; `just test` runs it too)
fuzz:
    cargo test -p reference-app --test openapi -- --nocapture a_fuzz

# Install what the tests need and is missing (PostgreSQL, Redis, wasm32-wasip2, componentize-py)
setup:
    scripts/setup

# Formatting and clippy for the host workspace and every guest crate; the architecture's invariants
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    scripts/lint-guests
    python3 scripts/check-architecture.py

# Criterion benchmarks of the service's in-process parts (stores under contention, codecs)
bench *args:
    cargo bench -p reference-app {{args}}

# Create labs/NAME (a plugin that builds and runs, and a guide template)
new-lab name:
    cargo build --release -p perflab
    ./target/release/perflab new-lab {{name}}

# A workshop's class server: prints the URL students join with (`just lab X --join URL`)
workshop *args:
    cargo build --release -p perflab
    ./target/release/perflab workshop serve {{args}}

# List the labs
labs:
    cargo build --release -p perflab
    ./target/release/perflab labs

# perflab's URL mode vs wrk on the same endpoint: throughput and client CPU per request
bench-harness *args:
    scripts/setup bench
    cargo build --release -p reference-app -p perflab
    python3 scripts/bench-harness.py {{args}}

# What --profile costs the service: the same endpoint profiled and unprofiled, paired rounds
bench-profiler *args:
    cargo build --release -p reference-app -p perflab
    python3 scripts/bench-profiler.py {{args}}

# What one plugin call costs (Rust and Python guests) next to one HTTP round trip, and what
# a call is made of in wasmtime (calls of growing shape)
bench-plugins:
    cargo build --release -p reference-app
    cargo bench -p perflab-plugin-host --bench plugin_calls
    cargo bench -p perflab-plugin-host --bench call_shapes

# Memory soak: perflab at a fixed rate for 10 minutes, its RSS sampled every second
soak *args:
    cargo build --release -p reference-app -p perflab
    python3 scripts/soak.py {{args}}

# What this machine can tell apart: noise by round length, A/A false claims, the noise floor
# (`just calibrate --comparisons 40`; `--effect-work-us 2` measures power instead)
calibrate *args:
    cargo build --release -p reference-app -p perflab
    ./target/release/perflab calibrate {{args}}

# The verdict benchmarks of bench-harness/BENCHMARKS.md: 40 A/A comparisons, then 20 with a
# known 2 µs difference of work per request (about an hour on 2 cores)
bench-verdicts:
    cargo build --release -p reference-app -p perflab
    ./target/release/perflab calibrate --comparisons 40 --save .perflab/calibration.json
    ./target/release/perflab calibrate --comparisons 20 --effect-work-us 2 --save .perflab/power.json
