package cli

import (
	"errors"
	"fmt"
)

// Exit codes, decided here and nowhere else. They are documented in the
// README and in `brink --help`.
const (
	ExitOK              = 0  // the command did what was asked; thresholds (if any) held
	ExitError           = 1  // a runtime failure: target unreachable at start, I/O error, ...
	ExitUsage           = 2  // bad flags, bad scenario or config file
	ExitAborted         = 97 // the run was aborted (second Ctrl-C, all agents lost, --on-agent-loss abort)
	ExitThresholdFailed = 99 // the run completed but at least one threshold failed
)

// ExitError carries an exit code and a hint for the user with an error.
type exitError struct {
	code int
	err  error
	hint string
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// WithExit wraps err so that the CLI exits with code and prints hint.
func WithExit(code int, err error, hint string) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err, hint: hint}
}

// Usagef is a usage or configuration error (exit code 2).
func Usagef(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// exitCode maps an error to the process exit code and an optional hint.
func exitCode(err error) (int, string) {
	if err == nil {
		return ExitOK, ""
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code, ee.hint
	}
	return ExitError, ""
}
