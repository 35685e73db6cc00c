// Package report writes brink's self-contained HTML reports: one file with
// its styles, scripts and charts (inline SVG from package chart) inside,
// that renders offline from a file:// URL or an e-mail attachment.
//
// The run report (WriteRunHTML) is built from the same pieces that the lab,
// comparison and saturation reports use: a Page of Figures (headline
// numbers) and Sections (charts, tables, free HTML).
package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"

	"github.com/brinkhq/brink/internal/output"
	"github.com/brinkhq/brink/internal/report/chart"
)

// Page is one self-contained HTML document.
type Page struct {
	Title    string
	Subtitle string
	Badge    Badge
	Figures  []Figure
	Sections []Section
}

// Badge is the verdict shown next to the title ("passed", "2 thresholds
// failed", "aborted"); an empty Text shows none.
type Badge struct {
	Text string
	OK   bool
}

// Figure is one headline number.
type Figure struct {
	Label string
	Value string
	Note  string // a smaller line under the value
	Bad   bool   // drawn in the failure color
}

// Section is a titled part of the page. Its parts render in this order:
// Note, Charts, Tables, HTML.
type Section struct {
	Title  string
	Note   string
	Charts []*chart.Chart
	Tables []Table
	HTML   template.HTML // trusted markup built by the caller, already escaped
}

// Table is a data table; numeric columns are right-aligned.
type Table struct {
	Caption string
	Columns []Column
	Rows    [][]Cell
	// Footer rows (an overall line) are set apart from the body.
	Footer [][]Cell
}

// Column is a table column heading.
type Column struct {
	Title   string
	Numeric bool
}

// Cell is one table cell. Class is one of "", "ok", "bad", "muted".
type Cell struct {
	Text  string
	Title string // hover text with the exact value, when Text is rounded
	Class string
}

// Cells makes a row of plain cells.
func Cells(texts ...string) []Cell {
	row := make([]Cell, len(texts))
	for i, t := range texts {
		row[i] = Cell{Text: t}
	}
	return row
}

const pageCSS template.CSS = `*{box-sizing:border-box}
body{margin:0;padding:24px 32px 48px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1f23;background:#f6f7f9}
header{display:flex;align-items:baseline;gap:14px;flex-wrap:wrap}
h1{font-size:22px;margin:0}
h2{font-size:17px;margin:32px 0 8px}
.sub{color:#5b6270;margin:4px 0 18px}
.badge{display:inline-block;padding:2px 10px;border-radius:11px;font-size:13px;font-weight:600;color:#fff;background:#1a7f37}
.badge.bad{background:#c62828}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px}
.figure{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:10px 12px}
.figure .label{color:#5b6270;font-size:12px;text-transform:uppercase;letter-spacing:.03em}
.figure .value{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}
.figure .note{color:#5b6270;font-size:12px}
.figure.bad .value{color:#c62828}
.card{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:8px;margin:10px 0;overflow-x:auto}
.note{color:#5b6270}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:4px 6px}
th,td{padding:4px 8px;border-bottom:1px solid #eceef1;text-align:left;white-space:nowrap}
th{font-size:12px;color:#5b6270;font-weight:600}
th.num,td.num{text-align:right}
tfoot td{font-weight:600;border-top:2px solid #d0d4da}
td.ok{color:#1a7f37;font-weight:600}
td.bad{color:#c62828;font-weight:600}
td.muted{color:#8a919c}
footer{margin-top:40px;color:#8a919c;font-size:12px}
`

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
{{.PageCSS}}{{.ChartCSS}}
</style>
</head>
<body>
<header><h1>{{.Title}}</h1>{{with .Badge}}{{if .Text}}<span class="badge{{if not .OK}} bad{{end}}">{{.Text}}</span>{{end}}{{end}}</header>
{{if .Subtitle}}<p class="sub">{{.Subtitle}}</p>{{end}}
{{if .Figures}}<div class="figures">
{{range .Figures}}<div class="figure{{if .Bad}} bad{{end}}"><div class="label">{{.Label}}</div><div class="value">{{.Value}}</div>{{if .Note}}<div class="note">{{.Note}}</div>{{end}}</div>
{{end}}</div>{{end}}
{{range .Sections}}<section>
{{if .Title}}<h2>{{.Title}}</h2>{{end}}
{{if .Note}}<p class="note">{{.Note}}</p>{{end}}
{{range .Charts}}<div class="card">
{{.SVG}}</div>
{{end}}{{range .Tables}}<div class="card"><table>
{{if .Caption}}<caption>{{.Caption}}</caption>{{end}}
<thead><tr>{{range .Columns}}<th{{if .Numeric}} class="num"{{end}}>{{.Title}}</th>{{end}}</tr></thead>
<tbody>
{{$cols := .Columns}}{{range .Rows}}<tr>{{range $i, $c := .}}{{template "cell" (cellArgs $cols $i $c)}}{{end}}</tr>
{{end}}</tbody>
{{if .Footer}}<tfoot>
{{range .Footer}}<tr>{{range $i, $c := .}}{{template "cell" (cellArgs $cols $i $c)}}{{end}}</tr>
{{end}}</tfoot>{{end}}
</table></div>
{{end}}{{.HTML}}
</section>
{{end}}
<footer>Generated by brink. This file is self-contained: it needs no network to display.</footer>
<script>
{{.ChartScript}}
</script>
</body>
</html>
{{define "cell"}}<td{{if .Class}} class="{{.Class}}"{{end}}{{if .Title}} title="{{.Title}}"{{end}}>{{.Text}}</td>{{end}}`

type cellArgs struct {
	Class, Title, Text string
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{"cellArgs": newCellArgs}).Parse(pageHTML))

// newCellArgs right-aligns cells of numeric columns.
func newCellArgs(cols []Column, i int, c Cell) cellArgs {
	class := c.Class
	if i < len(cols) && cols[i].Numeric {
		if class == "" {
			class = "num"
		} else {
			class = "num " + class
		}
	}
	return cellArgs{Class: class, Title: c.Title, Text: c.Text}
}

// WritePage renders p as one HTML document.
func WritePage(w io.Writer, p Page) error {
	var buf bytes.Buffer
	err := pageTemplate.Execute(&buf, struct {
		Page
		PageCSS, ChartCSS template.CSS
		ChartScript       template.JS
	}{p, pageCSS, chart.CSS, chart.Script})
	if err != nil {
		return fmt.Errorf("rendering the report page %q: %w", p.Title, err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// WritePageFile renders p into path, replacing it atomically.
func WritePageFile(path string, p Page) error {
	return output.WriteAtomic(path, "HTML report", func(w io.Writer) error { return WritePage(w, p) })
}
