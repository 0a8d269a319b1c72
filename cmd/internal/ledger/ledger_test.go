package ledger

import (
	"strings"
	"testing"
	"time"
)

func TestBlocks(t *testing.T) {
	old := "services:\n  dovecot-mailcow:\n    image: dovecot:1\n    ports:\n      - 143\n  postfix-mailcow:\n    image: postfix:1\n"
	mine := "services:\n  dovecot-mailcow:\n    image: dovecot:1\n    mem_limit: 4g\n    ports:\n      - 143\n  postfix-mailcow:\n    image: postfix:2\n\n"
	bs := Blocks("docker-compose.yml", []byte(old), []byte(mine), false, nil)
	if len(bs) != 2 {
		t.Fatalf("blocks: %+v", bs)
	}
	if bs[0].Where != "service dovecot-mailcow" || len(bs[0].Lines) != 1 || bs[0].Lines[0].String() != "+    mem_limit: 4g" {
		t.Errorf("first block %+v", bs[0])
	}
	// A modified line is one block of a removal and an addition; the
	// blank line added at the end is no customization.
	if bs[1].Where != "service postfix-mailcow" || len(bs[1].Lines) != 2 || bs[1].Lines[0].String() != "-    image: postfix:1" || bs[1].Lines[1].String() != "+    image: postfix:2" {
		t.Errorf("second block %+v", bs[1])
	}
	if bs[0].ID == bs[1].ID || len(bs[0].ID) != 8 {
		t.Errorf("ids %q %q", bs[0].ID, bs[1].ID)
	}
	// The same change in another file has another id; the same change
	// again has the same id.
	again := Blocks("docker-compose.yml", []byte(old), []byte(mine), false, nil)
	other := Blocks("other.yml", []byte(old), []byte(mine), false, nil)
	if again[0].ID != bs[0].ID || other[0].ID == bs[0].ID {
		t.Errorf("ids: again %s, other file %s, first %s", again[0].ID, other[0].ID, bs[0].ID)
	}
}

func TestWhere(t *testing.T) {
	ini := "[global]\na = 1\n[web-worker]\npm = static\n"
	bs := Blocks("pools.conf", []byte(ini), []byte(ini+"php_admin_value[memory_limit] = 2048M\n"), false, nil)
	if len(bs) != 1 || bs[0].Where != "[web-worker]" {
		t.Errorf("ini: %+v", bs)
	}
	yml := "services:\n  a:\n    image: x\nnetworks:\n  mailcow-network:\n    driver: bridge\n"
	bs = Blocks("docker-compose.yml", []byte(yml), []byte(yml+"    internal: true\n"), false, nil)
	if len(bs) != 1 || bs[0].Where != "networks.mailcow-network" {
		t.Errorf("compose network: %+v", bs)
	}
	// mailcow's own layout: services indented by four.
	real := "version: '2.1'\nservices:\n\n    unbound-mailcow:\n      image: u\n\n    dovecot-mailcow:\n      image: d:1\n      environment:\n        - A=1\n"
	bs = Blocks("docker-compose.yml", []byte(real), []byte(strings.Replace(real, "      image: d:1\n", "      image: d:1\n      mem_limit: 4g\n", 1)), false, nil)
	if len(bs) != 1 || bs[0].Where != "service dovecot-mailcow" {
		t.Errorf("four-space compose: %+v", bs)
	}
	bs = Blocks("docker-compose.yml", []byte(real), []byte(real+"        - B=2\n"), false, nil)
	if len(bs) != 1 || bs[0].Where != "service dovecot-mailcow" {
		t.Errorf("nested key: %+v", bs)
	}
	bs = Blocks("main.cf", []byte("a = 1\n"), []byte("a = 1\nb = 2\n"), false, nil)
	if len(bs) != 1 || bs[0].Where != "" {
		t.Errorf("plain: %+v", bs)
	}
}

func TestRedaction(t *testing.T) {
	red := func(s string) string { return strings.ReplaceAll(s, "hunter2", "<redacted>") }
	bs := Blocks("main.cf", []byte("a = 1\n"), []byte("a = 1\nsmtp_sasl_password_maps = static:me:hunter2\n"), false, red)
	if len(bs) != 1 || strings.Contains(bs[0].Lines[0].Text, "hunter2") {
		t.Fatalf("%+v", bs)
	}
	// The sum still identifies the real line.
	if lost := bs[0].Lost(Sums([]byte("a = 1\nsmtp_sasl_password_maps = static:me:hunter2\n"))); len(lost) != 0 {
		t.Errorf("line present but lost: %v", lost)
	}
	if lost := bs[0].Lost(Sums([]byte("a = 1\n"))); len(lost) != 1 {
		t.Errorf("line gone but not lost: %v", lost)
	}
}

func TestClassify(t *testing.T) {
	old := "a\nb\n"
	mine := "a\nmine\nb\n"
	b := Blocks("main.cf", []byte(old), []byte(mine), false, nil)[0]
	removal := Blocks("main.cf", []byte("a\nbad\nb\n"), []byte("a\nb\n"), false, nil)[0]
	cases := []struct {
		name  string
		b     Block
		f     Files
		want  Outcome
		by    string
		nMiss int
	}{
		{"kept", b, Files{Merged: []byte("a\nmine\nb\nnew\n"), MergedOK: true, Now: []byte("a\nmine\nb\nnew\n"), NowOK: true}, Kept, "", 0},
		{"put back", b, Files{Merged: []byte("a\nb2\n"), MergedOK: true, Now: []byte("a\nb2\nmine\n"), NowOK: true, Patch: "p"}, PutBack, "p", 0},
		{"moved", b, Files{Merged: []byte("a\nb2\n"), MergedOK: true, Now: []byte("a\nb2\n"), NowOK: true, Override: []byte("mine\n"), OverrideName: "extra.cf"}, Moved, "extra.cf", 1},
		{"lost", b, Files{Merged: []byte("a\nb2\n"), MergedOK: true, Now: []byte("a\nb2\n"), NowOK: true, Override: []byte("other\n"), OverrideName: "extra.cf"}, Lost, "", 1},
		{"deleted", b, Files{}, Deleted, "", 1},
		{"removal kept", removal, Files{Merged: []byte("a\nb\nc\n"), MergedOK: true, Now: []byte("a\nb\nc\n"), NowOK: true}, Kept, "", 0},
		{"removal undone", removal, Files{Merged: []byte("a\nbad\nb\n"), MergedOK: true, Now: []byte("a\nbad\nb\n"), NowOK: true}, Lost, "", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Classify(tc.b, tc.f)
			if r.Outcome != tc.want || r.By != tc.by || len(r.Missing) != tc.nMiss {
				t.Errorf("got %s by %q missing %v, want %s by %q with %d missing", r.Outcome, r.By, r.Missing, tc.want, tc.by, tc.nMiss)
			}
		})
	}
}

func TestLedgerLifecycle(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	blocks := Blocks("docker-compose.yml", []byte("services:\n  d:\n    image: 1\n"), []byte("services:\n  d:\n    image: 1\n    mem_limit: 4g\n"), false, nil)
	other := Blocks("main.cf", []byte("a\n"), []byte("a\nb\n"), false, nil)
	l := &Ledger{Schema: Schema}

	// Pre hook of the first update: two customizations, both new.
	added, back, dropped := l.Refresh(&Set{Base: "base1", Blocks: append(append([]Block{}, blocks...), other...)}, "head1", t0)
	if len(added) != 2 || len(back) != 0 || dropped != 0 || len(l.Entries) != 2 {
		t.Fatalf("refresh 1: added %d back %d dropped %d entries %d", len(added), len(back), dropped, len(l.Entries))
	}
	// Post hook: the compose edit is lost, main.cf kept.
	t1 := t0.Add(time.Hour)
	l.Settle([]Result{{Block: blocks[0], Outcome: Lost, Missing: blocks[0].Lines}, {Block: other[0], Outcome: Kept}}, "head1..head2", t1)
	if open := l.Open(); len(open) != 1 || open[0].ID != blocks[0].ID || open[0].Update != "head1..head2" || !open[0].FirstSeen.Equal(t0) {
		t.Fatalf("open after the update: %+v", open)
	}
	// Pre hook of the next update: the lost edit is not in the install
	// any more, but stays lost; main.cf's edit was reverted by the admin:
	// dropped, not a loss.
	t2 := t1.Add(time.Hour)
	_, _, dropped = l.Refresh(&Set{Base: "base2"}, "head2", t2)
	if dropped != 1 || len(l.Open()) != 1 {
		t.Fatalf("refresh 2: dropped %d, open %+v", dropped, l.Open())
	}
	// Ack: by a prefix, and by FILE:ID; an unknown id changes nothing.
	if _, err := l.Ack([]string{"zzzz"}, t2); err == nil || !strings.Contains(err.Error(), blocks[0].ID) {
		t.Fatalf("unknown id: %v", err)
	}
	if len(l.Open()) != 1 {
		t.Fatal("a failed ack changed the ledger")
	}
	if _, err := l.Ack([]string{"docker-compose.yml:" + blocks[0].ID[:5]}, t2); err != nil {
		t.Fatal(err)
	}
	if len(l.Open()) != 0 || l.Entries[0].Status != Acknowledged {
		t.Fatalf("after ack: %+v", l.Entries)
	}
	// The admin puts the line back: it is present again, first seen at t0.
	_, back, _ = l.Refresh(&Set{Base: "base2", Blocks: blocks}, "head3", t2.Add(time.Hour))
	if len(back) != 1 || l.Entries[0].Status != Present || !l.Entries[0].FirstSeen.Equal(t0) {
		t.Fatalf("back: %d, entries %+v", len(back), l.Entries)
	}
}

func TestBack(t *testing.T) {
	b := Blocks("f", []byte("a\n"), []byte("a\nmine\n"), false, nil)[0]
	e := Entry{Block: b, Status: Status(Lost)}
	if e.Back([]byte("a\n"), true) || e.Back(nil, false) || !e.Back([]byte("mine\na\n"), true) {
		t.Error("Back")
	}
}
