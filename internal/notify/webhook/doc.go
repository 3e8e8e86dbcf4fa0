// Package webhook is the generic JSON webhook channel: the admin digest
// (or any message) POSTed as one JSON document, for chat tools, ticket
// systems or a function of your own.
package webhook
