package faults

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// quoteLimit is how much of a user's input an error message quotes: a
// 100 MB protocol name must not become a 100 MB "one-line" message.
const quoteLimit = 40

// Clip shortens s to at most n bytes, cut on a rune boundary and marked
// with "…".
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Quote renders untrusted input for an error message: Go-quoted, at most a
// short prefix, with the full length when it was cut.
func Quote(s string) string {
	if len(s) <= quoteLimit {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%s (%d bytes)", strconv.Quote(Clip(s, quoteLimit)), len(s))
}
