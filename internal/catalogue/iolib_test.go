package catalogue

import (
	"regexp"
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

func TestQuoteKeyed(t *testing.T) {
	for _, s := range []string{
		"cluster_link_api_lookup_status_bad_erpc_results",
		"Adding local shard replica failed",
		"long_gc", "a.b*c(d)", "auth_template_invalid_body", "",
	} {
		q := QuoteKeyed(s)
		re := regexp.MustCompile(`^(?:` + q + `)$`)
		if !re.MatchString(s) {
			t.Errorf("QuoteKeyed(%q) = %q does not match it", s, q)
		}
		if s != "" && re.MatchString(s+"x") {
			t.Errorf("QuoteKeyed(%q) = %q matches more", s, q)
		}
		runs := strings.Split(q, `\B`)
		for i, r := range runs {
			// A run ends at the first place between two word characters
			// past MaxKey bytes that leaves minKey, so it may run longer.
			if len(r) > 2*MaxKey || i == len(runs)-1 && len(runs) > 1 && len(r) < minKey {
				t.Errorf("QuoteKeyed(%q) = %q: run %q", s, q, r)
			}
		}
	}
	if got := QuoteKeyed("cluster_link_api_lookup_body"); got != `cluster_link\B_api_lookup_body` {
		t.Errorf("QuoteKeyed: %q", got)
	}
}
