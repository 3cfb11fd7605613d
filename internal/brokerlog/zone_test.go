package brokerlog

import (
	"os"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zone database, should the machine have none

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
)

func newYork(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestSplitIn: timestamps without a zone are wall-clock times of loc
// (EST in winter, EDT in summer); everything that names its zone or is a
// Unix time is the same instant whatever loc says.
func TestSplitIn(t *testing.T) {
	ny := newYork(t)
	tests := []struct {
		line string
		want time.Time
		off  int // seconds east of UTC of the returned time
	}{
		{"2024-01-05T07:08:09: Client x disconnected.", time.Date(2024, 1, 5, 12, 8, 9, 0, time.UTC), -5 * 3600},
		{"2024-07-05 07:08:09: Client x disconnected.", time.Date(2024, 7, 5, 11, 8, 9, 0, time.UTC), -4 * 3600},
		{"2024-07-05 07:08:09,250 hello", time.Date(2024, 7, 5, 11, 8, 9, 250e6, time.UTC), -4 * 3600},
		{"Fri Mar 14 09:26:53 2025: Client x disconnected.", time.Date(2025, 3, 14, 13, 26, 53, 0, time.UTC), -4 * 3600},
		{"Fri Jan 10 09:26:53 2025: Client x disconnected.", time.Date(2025, 1, 10, 14, 26, 53, 0, time.UTC), -5 * 3600},
		// Instants: loc does not apply.
		{"1795320306: Client dup already connected, closing old connection.", time.Unix(1795320306, 0), 0},
		{"2024-01-05T07:08:09Z hello", time.Date(2024, 1, 5, 7, 8, 9, 0, time.UTC), 0},
		{"2024-01-05T07:08:09+00:00 [warning] hello", time.Date(2024, 1, 5, 7, 8, 9, 0, time.UTC), 0},
		{"2024-01-05T07:08:09.5+08:00 [warning] hello", time.Date(2024, 1, 4, 23, 8, 9, 5e8, time.UTC), 8 * 3600},
		{`{"time":1741944413123456,"level":"warning","msg":"x"}`, time.UnixMicro(1741944413123456), 0},
		// A container runtime's RFC 3339 Z in front of a zone-less broker
		// time: the broker's wins, read in loc.
		{"2024-01-05T12:08:10.123456789Z 2024-01-05T07:08:09: hello", time.Date(2024, 1, 5, 12, 8, 9, 0, time.UTC), -5 * 3600},
	}
	for _, tt := range tests {
		_, got, ok := SplitIn(tt.line, ny)
		if !ok || !got.Equal(tt.want) {
			t.Errorf("SplitIn(%q, New York) = %v, %v; want %v", tt.line, got, ok, tt.want)
			continue
		}
		if _, off := got.Zone(); off != tt.off {
			t.Errorf("SplitIn(%q) offset %d, want %d", tt.line, off, tt.off)
		}
		// Split keeps reading zone-less times as UTC.
		if _, u, _ := Split(tt.line); tt.off < 0 && u.Equal(got) {
			t.Errorf("Split(%q) = %v, the same instant as in New York", tt.line, u)
		}
	}
	// A year-less strftime time gets the current year in loc.
	_, got, ok := SplitIn("Mar 14 09:26:53: Client x disconnected.", ny)
	if !ok || got.Location() != ny || got.Hour() != 9 || got.Year() != time.Now().UTC().Year() {
		t.Errorf("year-less time in New York = %v, %v", got, ok)
	}
}

func TestSplitInDoesNotAllocate(t *testing.T) {
	ny := newYork(t)
	for _, line := range []string{
		"1795320306: Client dup already connected, closing old connection.",
		"2024-01-05T07:08:09: Client x disconnected.",
		"2024-01-05T07:08:09-05:00 host mosquitto[1]: x", // whole-hour offsets come from Go's cache
	} {
		if n := testing.AllocsPerRun(100, func() { SplitIn(line, ny) }); n != 0 {
			t.Errorf("SplitIn(%q) allocates %v times per call", line, n)
		}
	}
}

func TestParseTime(t *testing.T) {
	ny := newYork(t)
	ts, n, ok := ParseTime("2024-01-05T07:08:09.123456-05:00 vm mosquitto: x", ny)
	if !ok || n != len("2024-01-05T07:08:09.123456-05:00") || !ts.Equal(time.Date(2024, 1, 5, 12, 8, 9, 123456000, time.UTC)) {
		t.Errorf("ParseTime = %v, %d, %v", ts, n, ok)
	}
	if ts, _, ok := ParseTime("2024-01-05 07:08:09 x", ny); !ok || ts.Location() != ny || ts.Hour() != 7 {
		t.Errorf("zone-less ParseTime = %v, %v", ts, ok)
	}
	if _, _, ok := ParseTime("Jan  5 07:08:09 x", ny); ok {
		t.Error("ParseTime read a syslog time")
	}
}

// TestSplitInRealBrokerLocalTime runs a real mosquitto under
// TZ=America/New_York with a zone-less log_timestamp_format: the times it
// writes are New York wall-clock times, which SplitIn must turn into the
// instants they were written at (and Split, reading them as UTC, would put
// 4 or 5 hours off).
func TestSplitInRealBrokerLocalTime(t *testing.T) {
	ny := newYork(t)
	t.Setenv("TZ", "America/New_York") // inherited by mosquitto
	before := time.Now().Add(-time.Second)
	m := brokertest.StartMosquitto(t, "log_timestamp true", "log_timestamp_format %Y-%m-%dT%H:%M:%S")
	m.Takeover(t, "tz-probe")
	after := time.Now().Add(time.Second)
	b, err := os.ReadFile(m.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 4 {
		t.Fatalf("log too short:\n%s", b)
	}
	for _, line := range lines {
		msg, ts, ok := SplitIn(line, ny)
		if !ok {
			t.Fatalf("no timestamp in %q", line)
		}
		if ts.Before(before.Truncate(time.Second)) || ts.After(after) {
			t.Errorf("%q read as %v, not between %v and %v", line, ts, before, after)
		}
		if got := ts.Format(time.RFC3339); !strings.HasSuffix(got, "-05:00") && !strings.HasSuffix(got, "-04:00") {
			t.Errorf("log_time %s has not New York's offset", got)
		}
		if _, u, _ := Split(line); u.Equal(ts) {
			t.Errorf("Split(%q) read the New York time as UTC and still got %v: the test cannot tell", line, u)
		}
		if strings.Contains(msg, "already connected") {
			t.Logf("takeover line %q: log_time %s", line, ts.Format(time.RFC3339))
		}
	}
}
