package brokerlog

import "time"

// SplitIn is Split with timestamps that carry no zone read in loc, the
// broker's zone. Mosquitto formats log_timestamp_format with strftime in
// its local time, so "2024-03-05T07:08:09: " written under
// TZ=America/New_York is 12:08:09 UTC; Split would read it as 07:08:09 UTC.
// Timestamps with a zone or offset, and Unix times, are instants and do
// not depend on loc. The time returned carries loc (or the offset the line
// gave), so it prints as an instant with its offset. SplitIn does not
// allocate for Mosquitto's default Unix-seconds prefix.
func SplitIn(line string, loc *time.Location) (msg string, t time.Time, ok bool) {
	if loc == nil {
		loc = time.UTC
	}
	return splitIn(line, loc)
}

// ParseTime parses the ISO 8601 / RFC 3339 timestamp at the start of s,
// "YYYY-MM-DD[T ]HH:MM:SS[.,fraction][Z|±HH:MM|±HHMM]", and reports how
// many bytes it used; a timestamp without a zone is read in loc. It is the
// parser Split uses, for packages that read timestamps of the same shapes
// around a broker's line (syslog, journal and container envelopes).
func ParseTime(s string, loc *time.Location) (t time.Time, n int, ok bool) {
	if loc == nil {
		loc = time.UTC
	}
	return parseISO(s, loc)
}
