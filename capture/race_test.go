//go:build race

package capture

// faultStride is the step between the fault points the crash-point test
// tries first: under the race detector (ten times slower) every third
// step, then the others in turn until each kind of step (produce, flush,
// end, confirm) has had a fault; every step otherwise.
const faultStride = 3
