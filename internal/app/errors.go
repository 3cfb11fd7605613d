package app

import (
	"errors"
	"fmt"
	"strings"
)

// SettingError is a bad value of one setting. Its text starts with the
// flag ("--lang \"fr\": want en or zh"), so it reads the same whether the
// value came from a flag, the environment or the file.
type SettingError struct {
	Flag string // the long name, without "--"
	err  error
}

func (e *SettingError) Error() string { return e.err.Error() }
func (e *SettingError) Unwrap() error { return e.err }

// settingErr reports a bad value of flag; format continues the text after
// "--flag " (after "--flag" when it starts with a colon).
func settingErr(flag, format string, args ...any) error {
	sep := " "
	if strings.HasPrefix(format, ":") {
		sep = ""
	}
	return &SettingError{Flag: flag, err: fmt.Errorf("--"+flag+sep+format, args...)}
}

// wrapSetting reports err, from a setting's value, as flag's.
func wrapSetting(flag string, err error) error {
	return &SettingError{Flag: flag, err: fmt.Errorf("--%s: %w", flag, err)}
}

// LocatedError is a setting error with where the value came from: the
// file and line, or the environment variable.
type LocatedError struct {
	At  string
	Err error
}

func (e *LocatedError) Error() string { return e.At + ": " + e.Err.Error() }
func (e *LocatedError) Unwrap() error { return e.Err }

// Locate adds to a setting error where its value came from. A value given
// as a flag is where the user just typed it, and stays as it is.
func Locate(err error, src Sources) error {
	var se *SettingError
	if !errors.As(err, &se) {
		return err
	}
	switch s := src[se.Flag]; s.Kind {
	case FromFile:
		return &LocatedError{At: s.At, Err: err}
	case FromEnv:
		return &LocatedError{At: "env " + s.At, Err: err}
	}
	return err
}

// Locate adds to a setting error where its value came from.
func (s Settings) Locate(err error) error { return Locate(err, s.sources) }
