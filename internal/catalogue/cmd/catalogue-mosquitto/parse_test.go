package main

import (
	"reflect"
	"testing"
)

// A made-up C file with each construct the extractor has to get right.
const sample = `/* log__printf(NULL, MOSQ_LOG_ERR, "in a comment"); */
int log__printf(struct mosquitto *mosq, unsigned int priority, const char *fmt, ...);
static void f(void)
{
	log__printf(NULL, MOSQ_LOG_ERR, "Error: joined "
			"across lines %" PRIu64 ".", n); // "not this"
#ifdef WITH_BROKER
	log__printf(NULL, MOSQ_LOG_WARNING,
#else
	fprintf(stderr,
#endif
			"Warning: broker side %s.", x);
#if defined(WIN32) || defined(__CYGWIN__)
	log__printf(NULL, MOSQ_LOG_ERR, "Windows only");
#endif
#if 0
	log__printf(NULL, MOSQ_LOG_ERR, "dead code");
#endif
	fprintf(stderr, "Error: Unknown option '%s'.\n", argv[i]);
	fprintf(stdout, "not stderr");
	mosquitto_log_printf(MOSQ_LOG_INFO, "Denied \"%s\" (q%d)", a, b);
	net__print_error(MOSQ_LOG_ERR, "Error: %s");
	log__printf(NULL, level, "%s: Unable to resolve %s.", msg, host);
	log__printf(NULL, MOSQ_LOG_ERR, format_str, buf);
	x = '"'; log__printf(NULL, MOSQ_LOG_NOTICE, "after a char literal\t%s", id);
}
`

func TestParse(t *testing.T) {
	calls, skipped := parse("src/x.c", []byte(sample))
	type c struct{ format, level string }
	var got []c
	for _, k := range calls {
		got = append(got, c{k.format, k.level})
	}
	want := []c{
		{"Error: joined across lines %lu.", "error"},
		{"Warning: broker side %s.", "warning"},
		{"Error: Unknown option '%s'.", "stderr"},
		{"Denied \"%s\" (q%d)", "information"},
		{"Error: %s", "error"},
		{"%s: Unable to resolve %s.", "variable"},
		{"after a char literal\t%s", "notice"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("calls:\n got %q\nwant %q", got, want)
	}
	if len(skipped) != 1 {
		t.Errorf("skipped %q, want the one call with a variable format", skipped)
	}
	if calls[0].line != 5 || calls[1].line != 8 {
		t.Errorf("lines %d, %d; want 5, 8", calls[0].line, calls[1].line)
	}
}

func TestKeep(t *testing.T) {
	for _, k := range []struct {
		c    call
		want bool
	}{
		{call{format: "Client %s disconnected.", level: "notice"}, true},
		{call{format: "Denied PUBLISH from %s", level: "debug"}, true},
		{call{format: "Sending PINGRESP to %s", level: "debug"}, false},
		{call{format: "Sending CONNACK to %s (%d, %d)", level: "debug"}, true},
		{call{format: "anything", level: "internal"}, false},
		{call{format: "%s\n", level: "stderr", file: "src/logging.c"}, false},
	} {
		if got := keep(k.c); got != k.want {
			t.Errorf("keep(%+v) = %v, want %v", k.c, got, k.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("log__printf(NULL, MOSQ_LOG_ERR, \"\\x41\\101\\"))
	f.Fuzz(func(t *testing.T, src []byte) {
		calls, _ := parse("f.c", src)
		for _, c := range calls {
			if c.format == "" || c.line < 1 {
				t.Fatalf("bad call %+v", c)
			}
		}
	})
}
