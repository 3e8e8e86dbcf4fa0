package remediate

// RequestToken is requestToken, for the tests.
var RequestToken = requestToken
