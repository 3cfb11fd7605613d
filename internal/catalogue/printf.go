package catalogue

import (
	"fmt"
	"strings"
)

// PrintfDefaults are the values RenderPrintf gives a C printf conversion
// that Args leave unset, by conversion letter: plausible in most log
// lines. A string is a client-id-like token, since most Mosquitto lines
// name a client.
var PrintfDefaults = map[byte]string{
	's': "sensor-1",
	'd': "42", 'i': "42", 'u': "42",
	'x': "2a", 'X': "2A", 'o': "52",
	'c': "x",
	'f': "1.5", 'g': "1.5", 'e': "1.5e+00",
	'p': "0x7f3a2c001000",
}

// RenderPrintf renders a C printf format with plausible values: args[i]
// is the value of the i-th conversion (%s, %d, %.*s...; a * width or
// precision is not a conversion of its own and gets no value), and an
// absent or empty one takes PrintfDefaults. "%%" is "%". It fails on a
// conversion it does not know, so that a format no broker could print is
// caught rather than rendered wrong.
func RenderPrintf(format string, args []string) (string, error) {
	var b strings.Builder
	n := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		start := i
		i++
		if i < len(format) && format[i] == '%' {
			b.WriteByte('%')
			continue
		}
		// flags, width, precision, length modifiers
		for i < len(format) && strings.IndexByte("-+ #0123456789.*hlLqjzt'", format[i]) >= 0 {
			i++
		}
		if i >= len(format) {
			return "", fmt.Errorf("format %q: conversion at byte %d has no letter", format, start)
		}
		def, ok := PrintfDefaults[format[i]]
		if !ok {
			return "", fmt.Errorf("format %q: unknown conversion %q at byte %d", format, format[start:i+1], start)
		}
		if n < len(args) && args[n] != "" {
			def = args[n]
		}
		n++
		b.WriteString(def)
	}
	if n < len(args) {
		return "", fmt.Errorf("format %q: %d conversions but %d args", format, n, len(args))
	}
	return b.String(), nil
}
