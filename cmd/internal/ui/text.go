package ui

import (
	"fmt"
	"strings"
)

// FirstLine returns the first line of s without its surrounding space:
// the part of an error or a command's output that fits a one-line
// message.
func FirstLine(s string) string { return FirstLines(s, 1) }

// FirstLines returns up to n lines of s, trimmed of surrounding space,
// joined with " / " to fit one line.
func FirstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " / ")
}

// Plural returns one when n is 1, else many.
func Plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Count returns n and word, with an s when n is not 1: "1 file",
// "3 files".
func Count(n int, word string) string {
	return fmt.Sprintf("%d %s", n, Plural(n, word, word+"s"))
}
