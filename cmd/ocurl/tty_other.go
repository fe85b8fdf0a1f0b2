//go:build !linux

package main

import "io"

// isTerminal is false where ocurl cannot ask (the progress meter stays off).
func isTerminal(w any) bool { return false }

func terminalWidth(w io.Writer) int { return 0 }
