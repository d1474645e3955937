package main

import (
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kgoLogger routes franz-go's client log to the process log: warnings and
// errors by default, everything at debug level.
type kgoLogger struct{ log zerolog.Logger }

func (l kgoLogger) Level() kgo.LogLevel {
	switch {
	case l.log.GetLevel() <= zerolog.DebugLevel:
		return kgo.LogLevelDebug
	case l.log.GetLevel() <= zerolog.WarnLevel:
		return kgo.LogLevelWarn
	}
	return kgo.LogLevelError
}

func (l kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	var ev *zerolog.Event
	switch level {
	case kgo.LogLevelError:
		ev = l.log.Error()
	case kgo.LogLevelWarn:
		ev = l.log.Warn()
	case kgo.LogLevelInfo:
		ev = l.log.Info()
	default:
		ev = l.log.Debug()
	}
	ev.Str("component", "kafka-client").Fields(keyvals).Msg(msg)
}
