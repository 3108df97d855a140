// Package docs checks the man pages and completions.
package docs
