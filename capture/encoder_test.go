package capture

import (
	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema/format"
)

// flowEncoder builds the Flow JSON encoders the tests capture with, as the
// command builds them for the default configuration.
var flowEncoder = func() event.NewEncoder {
	enc, err := format.NewEncoder(format.Settings{})
	if err != nil {
		panic(err)
	}
	return enc
}()
