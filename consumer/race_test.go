//go:build race

package consumer

// raceDetector reports whether the tests run with -race, which maps memory
// of its own (so a process's RSS says little about what the code holds).
const raceDetector = true
