//go:build !unix

package main

import "io/fs"

// ownGroup cannot tell here: a group-readable key file is not trusted.
func ownGroup(fi fs.FileInfo) bool { return false }
