package config

import (
	"strings"
	"testing"
)

// TestParseValidate: [validate] turns the checks off, sets or turns off a
// service's command; a bad value is an error naming the file, line and
// key; a key that is no compose service is a warning with its line.
func TestParseValidate(t *testing.T) {
	c, err := Parse("m.ini", []byte("[validate]\nenabled = off\npostfix-mailcow = off\nnginx-mailcow = nginx -t -q\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Validate {
		t.Error("enabled = off left the checks on")
	}
	if got := c.ValidateCommands; got["postfix-mailcow"] != "off" || got["nginx-mailcow"] != "nginx -t -q" || len(got) != 2 {
		t.Errorf("commands: %v", got)
	}
	if got, want := c.ValidateOrigin("nginx-mailcow"), "m.ini:4 [validate] nginx-mailcow"; got != want {
		t.Errorf("origin %q, want %q", got, want)
	}
	if d := Default(); !d.Validate || d.ValidateCommands != nil {
		t.Errorf("defaults: validate %v, commands %v", d.Validate, d.ValidateCommands)
	}

	_, err = Parse("m.ini", []byte("[validate]\nenabled = maybe\nsogo-mailcow =\n"))
	for _, want := range []string{"m.ini:2: [validate] enabled: \"maybe\" is not a boolean", "m.ini:3: [validate] sogo-mailcow: empty"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}

	c, err = Parse("m.ini", []byte("[validate]\n\nrspamd = rspamadm configtest\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "m.ini:3: [validate] unknown key \"rspamd\"") {
		t.Errorf("warnings: %q", c.Warnings)
	}
	if len(c.ValidateCommands) != 0 {
		t.Errorf("an unknown key set a command: %v", c.ValidateCommands)
	}
}
