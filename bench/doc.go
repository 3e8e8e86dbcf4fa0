// Package bench measures keywarden against the way the common "rotate old
// keys" scripts scan IAM, on a moto organization: wall time, API calls and
// peak memory, side by side in one run; and one account's scan against a
// model of its critical path, with its credential report ready and to be
// generated (`make bench-scan`). moto serves one request at a time, so
// both benchmarks measure twice: live, and replayed from a recording of
// moto's answers (the proxy's Record and Replay), so that moto's own time
// does not cap the parallelism measured (accounts.parallel 8 against 1,
// the key lookups of one account). It holds only benchmarks, which seed thousands of users and
// take minutes; `make test` compiles them and runs none. Run them with
// `make bench-scan` and `make bench-org` (see docs/performance.md).
package bench
