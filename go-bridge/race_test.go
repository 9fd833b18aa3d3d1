//go:build race

package junction_test

// The race detector allocates on its own, so allocation counts are not
// checked under it.
const raceEnabled = true
