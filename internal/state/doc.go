// Package state is keywarden's memory between runs: which notices (a
// finding told to an owner, or to the admins through one digest channel)
// were delivered, at which stage and on which day, so that `keywarden run`
// tells each thing once per reminder period and a missed run loses nothing.
//
// Store is the one interface; sqlite (a local file, the default), dynamodb
// (one DynamoDB table, for Lambda) and memstore (in memory, for tests and
// dry runs without a state file) implement it. Every implementation passes
// the conformance suite in statetest.
//
// The cadence is day-based (UTC days written YYYY-MM-DD, which compare as
// strings) and decided by Due. Delivery is claim → send → Sent (or
// Release): Claim is one conditional write that succeeds only when the
// cadence allows and no other run holds the notice, so two overlapping runs
// cannot both send it.
package state
