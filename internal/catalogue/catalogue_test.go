package catalogue

import (
	"bytes"
	"strings"
	"testing"
)

func TestRenderPrintf(t *testing.T) {
	for _, c := range []struct {
		format string
		args   []string
		want   string
	}{
		{"Client %s disconnected, not authorised.", nil, "Client sensor-1 disconnected, not authorised."},
		{"Denied PUBLISH from %s (d%d, q%d, r%d, m%hu, '%s', ... (%ld bytes))", []string{"", "", "1", "", "", "a/b"},
			"Denied PUBLISH from sensor-1 (d42, q1, r42, m42, 'a/b', ... (42 bytes))"},
		{"100%% of %.*s", []string{"x"}, "100% of x"},
		{"%-10s|%5.2f|%lu|%zu|%llx", nil, "sensor-1|1.5|42|42|2a"},
	} {
		got, err := RenderPrintf(c.format, c.args)
		if err != nil || got != c.want {
			t.Errorf("RenderPrintf(%q, %q) = %q, %v; want %q", c.format, c.args, got, err, c.want)
		}
	}
	for _, bad := range []struct {
		format string
		args   []string
	}{{"trailing %", nil}, {"%y", nil}, {"one %s", []string{"a", "b"}}} {
		if got, err := RenderPrintf(bad.format, bad.args); err == nil {
			t.Errorf("RenderPrintf(%q, %q) = %q, want an error", bad.format, bad.args, got)
		}
	}
}

func FuzzRenderPrintf(f *testing.F) {
	f.Add("Client %s disconnected (%d).", "x")
	f.Add("%%%.*s%-5lu", "")
	f.Fuzz(func(t *testing.T, format, arg string) {
		out, err := RenderPrintf(format, []string{arg})
		if err == nil && !strings.Contains(format, "%") && out != format {
			t.Fatalf("format without verbs changed: %q -> %q", format, out)
		}
	})
}

func TestReadRejects(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{`{"format":"a","level":"error"}` + "\n" + `{"format":"a","level":"error"}`, "t.jsonl:2: field format"},
		{`{"format":"a","lvl":"error"}`, `t.jsonl:1: json: unknown field "lvl"`},
		{`{"format":""}`, "t.jsonl:1: field format: empty"},
		{`{"format":`, "t.jsonl:1:"},
	} {
		_, err := Read(strings.NewReader(c.text), "t.jsonl")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Read(%q): %v, want an error containing %q", c.text, err, c.want)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		e  Entry
		ok bool
	}{
		{Entry{Disposition: Signature, Signature: "mosquitto/x"}, true},
		{Entry{Disposition: Signature}, false},
		{Entry{Disposition: Benign, Reason: "normal"}, true},
		{Entry{Disposition: Benign}, false},
		{Entry{Disposition: Gap, Reason: "todo"}, true},
		{Entry{Disposition: Gap, Reason: "x", Signature: "mosquitto/x"}, false},
		{Entry{}, false},
		{Entry{Disposition: "maybe"}, false},
	} {
		if err := c.e.Check(); (err == nil) != c.ok {
			t.Errorf("Check(%+v) = %v, want ok=%v", c.e, err, c.ok)
		}
	}
}

func TestMergeKeepsDecisions(t *testing.T) {
	old := []Entry{
		{Format: "a %s", Level: "error", Sites: []string{"x.c:1@v1"}, Disposition: Benign, Reason: "why"},
		{Format: "gone", Level: "error", Disposition: Gap, Reason: "r"},
		{Format: "v %s", Level: "warning", Disposition: Benign, Reason: "r"},
	}
	ext := []Entry{
		{Format: "a %s", Level: "error", Sites: []string{"x.c:9@v2"}, Versions: []string{"2.0"}},
		{Format: "new", Level: "notice"},
		{Format: "v %s", Level: "variable"},
	}
	merged, dropped := Merge(old, ext)
	if len(merged) != 3 || merged[0].Reason != "why" || merged[0].Sites[0] != "x.c:9@v2" || merged[1].Disposition != "" || merged[2].Level != "warning" {
		t.Errorf("merged: %+v", merged)
	}
	if len(dropped) != 1 || dropped[0].Format != "gone" {
		t.Errorf("dropped: %+v", dropped)
	}
	var b bytes.Buffer
	if err := Write(&b, merged); err != nil {
		t.Fatal(err)
	}
	back, err := Read(&b, "round-trip")
	if err != nil || len(back) != 3 || back[0].Format != "a %s" || back[1].Format != "new" {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

func TestCount(t *testing.T) {
	c := Count([]Entry{
		{Versions: []string{"1.6", "2.0"}, Disposition: Signature},
		{Versions: []string{"2.0"}, Disposition: Benign},
		{Versions: []string{"2.0", "2.1"}, Disposition: Gap},
		{Versions: []string{"1.10"}, Disposition: Benign},
	})
	if got := c[""]; got.Entries != 4 || got.Signature != 1 || got.Benign != 2 || got.Gap != 1 || got.Explained() != 0.75 {
		t.Errorf("all: %+v", got)
	}
	if got := c["2.0"]; got.Entries != 3 || got.Gap != 1 {
		t.Errorf("2.0: %+v", got)
	}
	if got := strings.Join(Versions(c), " "); got != "1.6 1.10 2.0 2.1" {
		t.Errorf("versions: %s", got)
	}
}

func FuzzRead(f *testing.F) {
	f.Add(`{"format":"a %s","level":"error","sites":["x.c:1@v1"],"versions":["1.6"],"disposition":"gap","reason":"r"}`)
	f.Add("\n\n{\"format\":\"x\"}\n{")
	f.Fuzz(func(t *testing.T, text string) {
		entries, err := Read(strings.NewReader(text), "f.jsonl")
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := Write(&b, entries); err != nil {
			t.Fatal(err)
		}
		back, err := Read(&b, "again")
		if err != nil || len(back) != len(entries) {
			t.Fatalf("written entries do not read back: %v (%d vs %d)", err, len(back), len(entries))
		}
	})
}
