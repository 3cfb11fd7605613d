package catalogue

import (
	"strings"
	"testing"
)

func TestRenderIOLib(t *testing.T) {
	for _, c := range []struct {
		format string
		args   []string
		want   string
	}{
		{"[Channel] Client ~s (Username: '~s') login failed for ~0p", nil, "[Channel] Client sensor-1 (Username: 'sensor-1') login failed for econnrefused"},
		{"Failed to start mqtt listener ~s on ~s: ~0p~n", []string{"mqtt:tcp:external", "0.0.0.0:1883", "eaddrinuse"}, "Failed to start mqtt listener mqtt:tcp:external on 0.0.0.0:1883: eaddrinuse\n"},
		{"~ts ~tp ~-10s|~.16B|~10.2f|~.3.0p ~~ ~i~w", []string{"", "", "", "", "", "", "", "w"}, "sensor-1 econnrefused sensor-1|42|1.5|econnrefused ~ w"},
	} {
		got, err := RenderIOLib(c.format, c.args)
		if err != nil || got != c.want {
			t.Errorf("RenderIOLib(%q, %q) = %q, %v; want %q", c.format, c.args, got, err, c.want)
		}
	}
	for _, bad := range []struct {
		format string
		args   []string
	}{{"x ~", nil}, {"~z", nil}, {"~s", []string{"a", "b"}}} {
		if got, err := RenderIOLib(bad.format, bad.args); err == nil {
			t.Errorf("RenderIOLib(%q, %q) = %q, want an error", bad.format, bad.args, got)
		}
	}
}

// FuzzRenderIOLib: any format renders or fails without panicking, and a
// format without control sequences renders as itself.
func FuzzRenderIOLib(f *testing.F) {
	for _, s := range []string{"~s", "~.16B", "~-10.3.xp", "a~", "~~~n", "~*.*s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, format string) {
		got, err := RenderIOLib(format, nil)
		if !strings.Contains(format, "~") && (err != nil || got != format) {
			t.Fatalf("RenderIOLib(%q) = %q, %v", format, got, err)
		}
	})
}
