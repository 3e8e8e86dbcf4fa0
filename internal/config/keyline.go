package config

// KeyLine returns the line in a config file's contents of the key that
// path names (e.g. "notify.templates.user_html"), or of its nearest
// ancestor present in the file; 0 when data is not a readable mapping. It
// lets checks made outside this package (templates, for one) report
// FILE:LINE like Load does.
func KeyLine(data []byte, path string) int {
	root, err := parseYAML("", data)
	if err != nil || root == nil {
		return 0
	}
	return lineOf(root, path)
}
