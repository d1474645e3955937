package schema

// This file holds the facts about key columns: which types can be row-key
// columns and how their values are keyed (KeyModeOf), and whether
// PostgreSQL's ORDER BY on such a column equals the byte order of its row
// key (KeyOrderOf).

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pg2kafka/pg2kafka/event"
)

// KeyMode is how a key column's values become row-key tuple elements
// (schema/rowkey writes and reads them).
type KeyMode uint8

// The key modes.
const (
	// KeyInt: int2, int4, int8 as an integer.
	KeyInt KeyMode = iota + 1
	// KeyOID: oid as an unsigned integer.
	KeyOID
	// KeyBool: bool.
	KeyBool
	// KeyFloat4: float4 as a float32.
	KeyFloat4
	// KeyFloat8: float8 as a float64.
	KeyFloat8
	// KeyNumeric: numeric as the nested ("N", (E, F), B) tuple.
	KeyNumeric
	// KeyString: the raw text bytes as a string.
	KeyString
	// KeyLower: the text bytes lowercased (macaddr, macaddr8).
	KeyLower
	// KeyUUID: the lowercase canonical uuid.
	KeyUUID
	// KeyBytea: the decoded bytes.
	KeyBytea
	// KeyTime: date, timestamp, timestamptz as a UTC timestamp string.
	KeyTime
)

// keyUnhandledText lists type names of KindText columns that Flow's
// capture cannot use as keys: pgx decodes them to Go types its tuple packer
// rejects (§2.4 "anything else"). Other KindText names, including types the
// driver does not know (citext, money, ...), are keyed by their raw text.
var keyUnhandledText = map[string]bool{
	"bit": true, "varbit": true, "box": true, "char": true, "cid": true,
	"cidr": true, "circle": true, "inet": true, "line": true, "lseg": true,
	"path": true, "point": true, "polygon": true, "record": true, "tid": true,
	"tsvector": true, "xid": true, "xid8": true, "xml": true,
	"time": true, "timetz": true, "interval": true, "json": true, "jsonb": true,
}

// KeyModeOf resolves how values of t are keyed (their row-key support),
// or fails naming the type.
func KeyModeOf(t *event.Type) (KeyMode, error) {
	if t == nil {
		return 0, errors.New("row key: missing column type")
	}
	if t.Name == "oid" {
		return KeyOID, nil
	}
	switch t.Kind {
	case event.KindInt:
		return KeyInt, nil
	case event.KindBool:
		return KeyBool, nil
	case event.KindFloat4:
		return KeyFloat4, nil
	case event.KindFloat8:
		return KeyFloat8, nil
	case event.KindNumeric:
		return KeyNumeric, nil
	case event.KindBytea:
		return KeyBytea, nil
	case event.KindUUID:
		return KeyUUID, nil
	case event.KindDate, event.KindTimestamp, event.KindTimestampTZ:
		return KeyTime, nil
	case event.KindEnum:
		return KeyString, nil
	case event.KindText:
		switch {
		case t.Name == "macaddr" || t.Name == "macaddr8":
			return KeyLower, nil
		case keyUnhandledText[t.Name]:
			return 0, fmt.Errorf("row key: unsupported key column type %q", t.Name)
		default:
			return KeyString, nil
		}
	default:
		return 0, fmt.Errorf("row key: unsupported key column type %q", t.Name)
	}
}

// KeyOrder is how PostgreSQL's ORDER BY on a key column compares with the
// byte order of the column's row-key encoding (§2.6). Precise (filtered)
// backfills need the two to be equal: the replication filter compares row
// keys as bytes against the scan's cursor, so a row the scan has yet to reach
// but whose key bytes sort before the cursor would be dropped by the filter
// and never read.
type KeyOrder uint8

const (
	// KeyOrderDiffers: the orders may differ; the table must be backfilled
	// unfiltered.
	KeyOrderDiffers KeyOrder = iota
	// KeyOrderMatches: ORDER BY on the column as it is equals byte order.
	KeyOrderMatches
	// KeyOrderMatchesCollateC: ORDER BY equals byte order once the column
	// is ordered and compared COLLATE "C" (text, varchar and name under
	// another collation). That defeats the column's index, so only a forced
	// precise mode uses it.
	KeyOrderMatchesCollateC
)

// KeyOrderOf is the one place that decides, for a key column of type t,
// whether PostgreSQL's ORDER BY order equals the byte order of its row-key
// encoding (§2.6). Discovery, the choice of a binding's mode and the backfill
// query all ask it.
//
// KeyOrderMatches for integers, oid, bool, bytea, uuid, macaddr/macaddr8,
// numeric, float4/float8 (PostgreSQL's -0 = 0 aside, which a unique key
// cannot hold twice), date, timestamp and timestamptz (the capture's session
// is always UTC; values outside years 0-9999 become rowkey.TimePlaceholder and
// are caught by the backfill's ordering check), and text, varchar and name
// under the "C" or "POSIX" collation. KeyOrderMatchesCollateC for text,
// varchar and name under any other collation, unless the session receives
// text converted to an encoding of another byte order (a Collation suffixed
// " (WIN1252 to UTF8)", see event.Type). KeyOrderDiffers for everything
// else: enums (declaration order), bpchar (PostgreSQL ignores trailing
// blanks, so 'a' sorts before 'a\x01' while their blank-padded bytes sort the
// other way, whatever the collation), citext (case-insensitive under every
// collation), types unknown to the driver (money, domains, ...), and types
// that cannot be keys. The e2e test TestKeyOrderMatchesServer checks every
// KeyOrderMatches verdict against a real server.
func KeyOrderOf(t *event.Type) KeyOrder {
	if t == nil {
		return KeyOrderDiffers
	}
	mode, err := KeyModeOf(t)
	if err != nil {
		return KeyOrderDiffers
	}
	switch mode {
	case KeyInt, KeyOID, KeyBool, KeyFloat4, KeyFloat8,
		KeyNumeric, KeyLower, KeyUUID, KeyBytea, KeyTime:
		return KeyOrderMatches
	case KeyString:
		if t.Kind != event.KindText {
			return KeyOrderDiffers
		}
		switch t.Name {
		case "text", "varchar", "name":
			switch {
			case t.Collation == "C" || t.Collation == "POSIX":
				return KeyOrderMatches
			case strings.Contains(t.Collation, " ("):
				// Text converted from a server encoding (WIN1252,
				// EUC_JP, ...) whose byte order is not the order of the
				// converted bytes the row key holds.
				return KeyOrderDiffers
			}
			return KeyOrderMatchesCollateC
		}
	}
	return KeyOrderDiffers
}

// RowKeySupported reports whether values of t can be encoded in a row key
// (§2.4). A table whose key has another type cannot keep a keyed backfill
// cursor and is backfilled by physical location instead.
func RowKeySupported(t *event.Type) bool {
	_, err := KeyModeOf(t)
	return err == nil
}

// NumericTypmod decodes a numeric column's pg_attribute.atttypmod (also
// in pgoutput's RELATION message) into its declared precision and scale;
// ok is false for an unconstrained numeric (typmod -1). The scale may be
// negative or exceed the precision (PostgreSQL 15+), which Avro decimals
// cannot express: the Avro format then falls back to string.
func NumericTypmod(typmod int32) (precision, scale int, ok bool) {
	if typmod < 4 {
		return 0, 0, false
	}
	t := typmod - 4
	return int(t>>16) & 0xffff, int((t&0x7ff)^1024) - 1024, true
}
