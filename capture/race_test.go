//go:build race

package capture

// faultStride is the step between the fault points the crash-point test
// tries: under the race detector (ten times slower) every third step, so
// that make test's race phase stays short; every step otherwise.
const faultStride = 3
