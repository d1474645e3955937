// Package pgtext reads PostgreSQL's text output: the form in which the
// capture receives every value, under the session settings DateStyle=ISO,
// TimeZone=UTC, IntervalStyle=postgres and extra_float_digits=3. Each file
// starts with the grammar it reads. Every encoder (schema/flow,
// schema/debezium, schema/avro) and the row keys (schema/rowkey) parse text
// forms through this package only, so that a form is parsed in one place.
//
// The functions never allocate unless documented otherwise; those that
// append write to the caller's buffer.
package pgtext
