# One entry point that mirrors CI. `make verify` only reads; `make fix` rewrites files.
.PHONY: run test verify fix bench bench-search

run:
	cargo run --release --bin spanlake

# Installs the S3 test server and the official OpenTelemetry exporters (Python virtualenvs
# outside the clone; see scripts/test-deps.sh), then runs every test with them. Honours
# CARGO_TARGET_DIR.
test:
	deps="$$(bash scripts/test-deps.sh)" && eval "$$deps" && \
	cargo test --all-targets --locked

verify:
	cargo fmt --all -- --check
	cargo clippy --all-targets --locked -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked
	$(MAKE) test

fix:
	cargo fmt --all
	cargo clippy --all-targets --fix --allow-dirty --allow-staged -- -D warnings

bench:
	cargo run --release --bin spanlake -- bench ingest

# TraceQL search over SPANS spans in blocks. The data stays in BENCH_SEARCH_DIR, so a second
# run with the same SPANS searches again without ingesting.
SPANS ?= 10000000
BENCH_SEARCH_DIR ?= $${TMPDIR:-/tmp}/spanlake-bench-search-$(SPANS)
bench-search:
	cargo run --release --bin spanlake -- bench search --spans $(SPANS) --data-dir "$(BENCH_SEARCH_DIR)"
