// Package testenv runs the real components keywarden's tests talk to: a moto
// server (AWS) under libfaketime, so that tests can create credentials that
// are hundreds of days old, and helpers that seed it.
//
// A package that uses moto declares
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
//
// and each test calls Moto(t), which starts the package's one server on
// first use and resets it for the test. Without python3's moto or
// libfaketime the tests skip, or fail when the environment variable CI is
// set.
package testenv
