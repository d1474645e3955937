//go:build !race

package capture

// faultStride is the step between the fault points the crash-point test
// tries (see race_test.go): every step.
const faultStride = 1
