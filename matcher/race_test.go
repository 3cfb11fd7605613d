//go:build race

package matcher

// raceEnabled shrinks the slowest properties under the race detector.
const raceEnabled = true
