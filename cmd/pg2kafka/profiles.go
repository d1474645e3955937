package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startProfiles starts the profiles the environment asks for, for `make
// bench` investigations, and returns what writes them at exit:
// PG2KAFKA_CPUPROFILE names a file for a CPU profile of the whole run,
// PG2KAFKA_MEMPROFILE one for its allocations (pprof's allocs profile:
// alloc_space per call site shows what feeds the garbage collector).
func startProfiles() (stop func()) {
	var stops []func()
	if path := os.Getenv("PG2KAFKA_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "pg2kafka: PG2KAFKA_CPUPROFILE: %v\n", err)
		} else {
			stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
		}
	}
	if path := os.Getenv("PG2KAFKA_MEMPROFILE"); path != "" {
		stops = append(stops, func() {
			f, err := os.Create(path)
			if err == nil {
				err = pprof.Lookup("allocs").WriteTo(f, 0)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "pg2kafka: PG2KAFKA_MEMPROFILE: %v\n", err)
			}
		})
	}
	return func() {
		for _, stop := range stops {
			stop()
		}
	}
}
