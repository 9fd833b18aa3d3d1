//go:build !race

package junction_test

const raceEnabled = false
