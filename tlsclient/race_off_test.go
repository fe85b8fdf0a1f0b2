//go:build !race

package tlsclient_test

const raceEnabled = false
