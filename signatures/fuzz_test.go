package signatures

import (
	"os"
	"regexp"
	"testing"
)

// FuzzParse: whatever the bytes, Parse returns signatures or errors, never
// panics, and whatever it accepts is usable: an id and a regex that
// compiles.
func FuzzParse(f *testing.F) {
	for _, p := range seedFiles {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`[{"id":"a","regex":"x"},{"id":"b","regex":"("}]`))
	f.Add([]byte(`{"id":"a","regex":"x","severity":"fatal"}`))
	f.Add([]byte("[\n{\"id\": 1}\n]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sigs, _ := Parse("fuzz.json", data)
		for _, s := range sigs {
			if s.ID == "" {
				t.Fatalf("accepted a signature without id: %q", data)
			}
			if _, err := regexp.Compile(s.Regex); err != nil {
				t.Fatalf("accepted regex %q that does not compile: %v", s.Regex, err)
			}
		}
	})
}
