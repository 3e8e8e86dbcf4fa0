// Package bench measures keywarden against the way the common "rotate old
// keys" scripts scan IAM, on a moto organization: wall time, API calls and
// peak memory, side by side in one run. It holds only benchmarks, which
// seed thousands of users and take minutes; `make test` compiles them and
// runs none. Run them with `make bench-org` (see docs/performance.md).
package bench
