package risk

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/ledger"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// RenderOptions says how Render lays out a report.
type RenderOptions struct {
	// Width is the terminal width in columns; lines longer than it are
	// cut with "…". 0 or less means no limit.
	Width int
	// Color marks HIGH red and MEDIUM yellow with ANSI escapes; the
	// caller decides (terminal, NO_COLOR).
	Color bool
	// Full adds the diffs of every changed file, not only HIGH ones.
	Full bool
	// Brief prints the table and the lost lines, and no diffs (the demo).
	Brief bool
}

const (
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiBold   = "\x1b[1m"
	ansiReset  = "\x1b[0m"
)

// Render writes the report for a person: a summary table (risk, file,
// reason), the lost lines and unified diffs of HIGH files, and with
// opt.Full the diffs of all changed files.
func (r *Report) Render(w io.Writer, opt RenderOptions) error {
	bw := bufio.NewWriter(w)
	p := printer{w: bw, opt: opt}
	p.line(fmt.Sprintf("risk diff: base %s (%s), HEAD %s", gitx.Short(r.Base), r.BaseSource, gitx.Short(r.Head)))
	if r.Before != "" {
		p.line(fmt.Sprintf("local edits: Before update commit %s", gitx.Short(r.Before)))
	}
	p.line(fmt.Sprintf("%d high, %d medium, %d low", r.Count(High), r.Count(Medium), r.Count(Low)))
	p.line("")
	p.table(r)

	shown := map[string]bool{}
	for _, f := range r.Findings {
		if f.Risk != High || (len(f.Lost) == 0 && f.Diff == "") || opt.Brief && len(f.Lost) == 0 {
			continue
		}
		p.line("")
		p.colored(High, "== HIGH "+f.File)
		for _, l := range wrap(f.Reason, p.opt.Width) {
			p.line(l)
		}
		if len(f.Lost) > 0 {
			p.line("lost lines:")
			for _, l := range f.Lost {
				p.line("  " + l)
			}
		}
		if f.UpstreamDiff != "" && !opt.Brief {
			// The three sides of the merge, each labelled.
			p.line("upstream's change (the release you had → the new one):")
			p.diff(f.UpstreamDiff)
			p.line("what the merge made of your version (- yours, + now):")
		}
		switch {
		case f.Diff == "", opt.Brief:
		case shown[f.DiffFile]:
			p.line("(diff of " + f.DiffFile + " above)")
		default:
			shown[f.DiffFile] = true
			p.diff(f.Diff)
		}
	}
	if opt.Brief && r.Count(High) > 0 {
		p.line("")
		p.line("the diffs of the HIGH files: mcupdate diff")
	}
	if opt.Full && !opt.Brief && r.src != nil && len(r.src.changes) > 0 {
		diffs := r.src.diffs
		if diffs == nil {
			var err error
			if diffs, err = r.src.fullDiffs(nil, r.Base, r.Head, shown, nil); err != nil {
				return err
			}
		}
		for _, c := range r.src.changes {
			if shown[c.path] {
				continue
			}
			d, ok := diffs[c.path]
			if !ok {
				// Shown with a finding when the diffs were made, not now.
				var err error
				if d, err = r.src.diff(c); err != nil {
					return err
				}
			}
			p.line("")
			p.diff(d)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write risk diff: %w", err)
	}
	return nil
}

// fullDiffs returns the diff of every changed file but those shown with
// a finding, redacted, keyed by path. gx is the repository the analysis
// has open, nil to open it; pf what was made of them beforehand, or nil.
func (src *source) fullDiffs(gx *gitx.Repo, base, head string, shown map[string]bool, pf *prefetch) (map[string]string, error) {
	if gx == nil {
		var err error
		if gx, err = openRepo(src.dir); err != nil {
			return nil, err
		}
		defer gx.Close()
	}
	if pf == nil {
		pf = &prefetch{}
	}
	// Many files' diffs are git's own, all from one git diff-tree:
	// what `git diff` shows, at its speed (reading and diffing a large
	// release's 1,300 files here took twice its time); a few are diffed
	// here, cheaper than a git process. A file git's answer lacks is
	// diffed here too.
	var patches map[string]string
	var perr error
	if len(src.changes)-len(shown) > gitPatchesFrom {
		if pf.git {
			patches, perr = pf.patches, pf.perr
		} else {
			patches, perr = gx.Git().Patches(context.Background(), base, head)
		}
	}
	out := make(map[string]string, len(src.changes))
	for _, c := range src.changes {
		if shown[c.path] {
			continue
		}
		if d, ok := patches[c.path]; ok && perr == nil {
			out[c.path] = src.redactor.String(d)
			continue
		}
		p, ok := pf.prepared[c.path]
		if !ok {
			p = prepareChange(gx.Repository, c)
		}
		d, err := p.text(src.redactor)
		if err != nil {
			return nil, err
		}
		out[c.path] = d
	}
	return out, nil
}

// prefetch is what a full rendering's diffs need of the repository, made
// while the analysis runs: git's patches where there are many files, else
// each file's prepared diff.
type prefetch struct {
	git      bool
	patches  map[string]string
	perr     error
	prepared map[string]prepared
}

// startPrefetch makes the prefetch of changes between base and head in
// the background; the channel gives it when done.
func startPrefetch(gx *gitx.Repo, base, head string, changes []change) <-chan *prefetch {
	ch := make(chan *prefetch, 1)
	go func() {
		pf := &prefetch{}
		if len(changes) > gitPatchesFrom {
			pf.git = true
			pf.patches, pf.perr = gx.Git().Patches(context.Background(), base, head)
		} else {
			// Files taken in turn by as many workers as there are
			// cores: the analysis, done first, leaves its core to them.
			out := make([]prepared, len(changes))
			var next atomic.Int64
			var wg sync.WaitGroup
			for w := min(runtime.GOMAXPROCS(0), 4, len(changes)); w > 0; w-- {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := int(next.Add(1)) - 1; i < len(changes); i = int(next.Add(1)) - 1 {
						out[i] = prepareChange(gx.Repository, changes[i])
					}
				}()
			}
			wg.Wait()
			pf.prepared = make(map[string]prepared, len(changes))
			for i, c := range changes {
				pf.prepared[c.path] = out[i]
			}
		}
		ch <- pf
	}()
	return ch
}

// diff diffs one change, opening the repository for it.
func (src *source) diff(c change) (string, error) {
	gx, err := openRepo(src.dir)
	if err != nil {
		return "", err
	}
	defer gx.Close()
	return diffChange(gx.Repository, src.redactor, c)
}

// shownDiffs are the files whose diffs a full rendering shows with their
// HIGH findings.
func shownDiffs(fs []Finding) map[string]bool {
	shown := map[string]bool{}
	for _, f := range fs {
		if f.Risk == High && f.Diff != "" {
			shown[f.DiffFile] = true
		}
	}
	return shown
}

// gitPatchesFrom is how many files' diffs make one git process cheaper
// than diffing each here (measured on mailcow's release merges: a file
// costs about 0.3 ms here, a git diff-tree about 4 ms and 0.15 ms a file).
const gitPatchesFrom = 32

type printer struct {
	w   *bufio.Writer
	opt RenderOptions
}

func (p *printer) line(s string) {
	p.w.WriteString(cut(s, p.opt.Width))
	p.w.WriteByte('\n')
}

func (p *printer) colored(risk Risk, s string) {
	s = cut(s, p.opt.Width)
	if p.opt.Color {
		switch risk {
		case High:
			s = ansiBold + ansiRed + s + ansiReset
		case Medium:
			s = ansiYellow + s + ansiReset
		}
	}
	p.w.WriteString(s)
	p.w.WriteByte('\n')
}

func (p *printer) diff(d string) {
	for _, l := range strings.Split(strings.TrimSuffix(d, "\n"), "\n") {
		if p.opt.Color && len(l) > 0 && !strings.HasPrefix(l, "---") && !strings.HasPrefix(l, "+++") {
			switch l[0] {
			case '-':
				p.w.WriteString(ansiRed + cut(l, p.opt.Width) + ansiReset + "\n")
				continue
			case '+':
				p.w.WriteString("\x1b[32m" + cut(l, p.opt.Width) + ansiReset + "\n")
				continue
			}
		}
		p.line(l)
	}
}

type row struct {
	risk         Risk
	file, reason string
}

// briefMedium is how many MEDIUM rows a brief render shows: the hook's
// whole risk section must fit one screen.
const briefMedium = 8

func (p *printer) table(r *Report) {
	var rows []row
	medium, hidden := 0, 0
	for _, f := range r.Findings {
		if f.Risk == Medium {
			medium++
			if p.opt.Brief && medium > briefMedium {
				hidden++
				continue
			}
		}
		rows = append(rows, row{f.Risk, f.File, f.Reason})
	}
	if hidden > 0 {
		rows = append(rows, row{Medium, "…", fmt.Sprintf("%d more: mcupdate diff", hidden)})
	}
	dirs := make([]string, 0, len(r.Low))
	for d := range r.Low {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		n := r.Low[d]
		name := d + "/"
		if d == "." {
			name = "./"
		}
		rows = append(rows, row{Low, name, fmt.Sprintf("%d %s changed", n, ui.Plural(n, "file", "files"))})
	}
	if len(dirs) > 0 {
		rows = append(rows, row{Low, "", "every changed file: mcupdate diff --full"})
	}
	if len(rows) == 0 {
		p.line("nothing changed")
		return
	}
	fileW := len("FILE")
	for _, rw := range rows {
		fileW = max(fileW, utf8.RuneCountInString(rw.file))
	}
	const riskW = 6
	if p.opt.Width > 0 {
		// The reason says why; keep at least half the line for it.
		fileW = min(fileW, max(12, (p.opt.Width-riskW-4)/2))
	}
	p.line(fmt.Sprintf("%-*s  %-*s  %s", riskW, "RISK", fileW, "FILE", "REASON"))
	for _, rw := range rows {
		label := fmt.Sprintf("%-*s", riskW, rw.risk)
		rest := "  " + pad(cut(rw.file, fileW), fileW) + "  " + rw.reason
		rest = cut(rest, p.opt.Width-riskW)
		if p.opt.Width > 0 && p.opt.Width <= riskW {
			rest = ""
		}
		if p.opt.Color && rw.risk != Low {
			c := ansiYellow
			if rw.risk == High {
				c = ansiBold + ansiRed
			}
			label = c + label + ansiReset
		}
		p.w.WriteString(label + strings.TrimRight(rest, " ") + "\n")
	}
}

// wrap breaks s at spaces into lines of at most width runes (a word
// longer than that is cut); width ≤ 0 means one line.
func wrap(s string, width int) []string {
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		return []string{s}
	}
	var out []string
	cur := ""
	for _, w := range strings.Fields(s) {
		switch {
		case cur == "":
			cur = w
		case utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(w) <= width:
			cur += " " + w
		default:
			out = append(out, cut(cur, width))
			cur = w
		}
	}
	if cur != "" {
		out = append(out, cut(cur, width))
	}
	return out
}

func pad(s string, w int) string {
	if n := utf8.RuneCountInString(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

// cut shortens s to width runes, ending it with "…"; width ≤ 0 means no
// limit. Tabs count as one column, which is wrong for a terminal but
// keeps the cut from ever making a line longer.
func cut(s string, width int) string {
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		return s
	}
	n := 0
	for i := range s {
		if n == width-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// SchemaVersion is the version of the JSON form; it changes only when a
// field is removed or changes meaning.
const SchemaVersion = 1

// JSONReport is the JSON form of a Report. The field names are stable:
//
//	schema          int: SchemaVersion (the same name as in every JSON mcupdate writes)
//	base, head      commit hashes; before: the "Before update" commit or ""
//	base_source     how base was found: explicit, merge, before-update-commit,
//	                recorded, ORIG_HEAD or HEAD~1
//	findings        [{risk: HIGH|MEDIUM, file, reason, lost: [lines], diff_file, diff,
//	                upstream_diff}] ordered by risk then file; diff only on HIGH
//	                findings; upstream_diff on lost customizations
//	low             {area: number of other changed files} (areas: ".", data/web, …)
//	counts          {high, medium, low}
//	upstream_base   the upstream commit the customizations were made on
//	customizations  [{block: {id, file, where, lines: [{op, text, sum}]},
//	                outcome: kept|put-back|moved|lost|deleted, missing, by}]
type JSONReport struct {
	SchemaVersion int             `json:"schema"`
	Base          string          `json:"base"`
	BaseSource    BaseSource      `json:"base_source"`
	Head          string          `json:"head"`
	Before        string          `json:"before"`
	Findings      []JSONFinding   `json:"findings"`
	Low           map[string]int  `json:"low"`
	Counts        JSONCounts      `json:"counts"`
	UpstreamBase  string          `json:"upstream_base,omitempty"`
	Custom        []ledger.Result `json:"customizations"`
}

// JSONFinding is a Finding in JSONReport.
type JSONFinding struct {
	Risk     Risk     `json:"risk"`
	File     string   `json:"file"`
	Reason   string   `json:"reason"`
	Lost     []string `json:"lost,omitempty"`
	DiffFile string   `json:"diff_file,omitempty"`
	Diff     string   `json:"diff,omitempty"`
	// UpstreamDiff is upstream's change of a file whose customization was
	// lost.
	UpstreamDiff string `json:"upstream_diff,omitempty"`
}

// JSONCounts counts findings per risk.
type JSONCounts struct {
	High   int `json:"high"`
	Medium int `json:"medium"`
	Low    int `json:"low"`
}

// JSON returns the report's stable JSON form.
func (r *Report) JSON() JSONReport {
	j := JSONReport{
		SchemaVersion: SchemaVersion, Base: r.Base, BaseSource: r.BaseSource, Head: r.Head, Before: r.Before,
		Findings: make([]JSONFinding, 0, len(r.Findings)), Low: r.Low,
		Counts:       JSONCounts{High: r.Count(High), Medium: r.Count(Medium), Low: r.Count(Low)},
		UpstreamBase: r.UpstreamBase, Custom: ledger.Public(r.Custom),
	}
	if j.Custom == nil {
		j.Custom = []ledger.Result{}
	}
	if j.Low == nil {
		j.Low = map[string]int{}
	}
	for _, f := range r.Findings {
		j.Findings = append(j.Findings, JSONFinding{Risk: f.Risk, File: f.File, Reason: f.Reason, Lost: f.Lost, DiffFile: f.DiffFile, Diff: f.Diff, UpstreamDiff: f.UpstreamDiff})
	}
	return j
}

// MarshalJSON encodes the report as JSONReport.
func (r *Report) MarshalJSON() ([]byte, error) {
	return json.Marshal(r.JSON())
}

// WriteJSON writes the report's JSON form, indented, with < and > kept
// as they are (json.Marshal would write "\u003credacted\u003e").
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r.JSON()); err != nil {
		return fmt.Errorf("write risk diff JSON: %w", err)
	}
	return nil
}
