package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestRootExitCodes(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"version", []string{"version"}, ExitOK, "brink ", ""},
		{"help lists the roles", []string{"--help"}, ExitOK, "brink monitor", ""},
		{"unknown command is a usage error", []string{"nope"}, ExitUsage, "", `unknown command "nope"`},
		{"unknown flag is a usage error", []string{"version", "--bogus"}, ExitUsage, "", "unknown flag: --bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main(tt.args, Env{Stdout: &out, Stderr: &errOut, Stdin: strings.NewReader(""), Getenv: func(string) string { return "" }})
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.wantCode, errOut.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) || !strings.Contains(errOut.String(), tt.wantErr) {
				t.Fatalf("stdout %q stderr %q, want %q / %q", out.String(), errOut.String(), tt.wantOut, tt.wantErr)
			}
		})
	}
}
