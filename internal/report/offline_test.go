package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// externalRefs lists every reference in an HTML document that would make
// the browser fetch something: URL-valued attributes that are not
// fragments or data: URLs, CSS url()/@import, and elements that load
// by nature (link, iframe, object, embed).
func externalRefs(doc []byte) []string {
	var refs []string
	urlAttrs := map[string]bool{"src": true, "href": true, "xlink:href": true, "action": true, "poster": true,
		"data": true, "srcset": true, "background": true, "formaction": true, "manifest": true}
	cssURL := regexp.MustCompile(`(?i)url\(|@import`)
	z := html.NewTokenizer(bytes.NewReader(doc))
	inStyle := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return refs
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			switch tok.Data {
			case "link", "iframe", "object", "embed", "base", "frame":
				refs = append(refs, "<"+tok.Data+">")
			}
			inStyle = tok.Data == "style"
			for _, a := range tok.Attr {
				key := strings.ToLower(a.Key)
				if a.Namespace != "" {
					key = a.Namespace + ":" + key
				}
				v := strings.TrimSpace(a.Val)
				if urlAttrs[key] && !strings.HasPrefix(v, "#") && !strings.HasPrefix(v, "data:") {
					refs = append(refs, key+"="+v)
				}
				if key == "style" && cssURL.MatchString(v) {
					refs = append(refs, "style="+v)
				}
			}
		case html.EndTagToken:
			inStyle = false
		case html.TextToken:
			if inStyle && cssURL.Match(z.Text()) {
				refs = append(refs, "css: "+string(z.Text()))
			}
		}
	}
}

func TestExternalRefsDetectsReferences(t *testing.T) {
	tests := []struct {
		doc  string
		want int
	}{
		{`<p>GET http://127.0.0.1/ as text is fine &lt;img src="http://x"&gt;</p>`, 0},
		{`<a href="#rps">jump</a><img src="data:image/png;base64,AA">`, 0},
		{`<script src="https://cdn.example/x.js"></script>`, 1},
		{`<link rel="stylesheet" href="//cdn.example/x.css">`, 2},
		{`<svg><image xlink:href="http://x/y.png"/></svg>`, 1},
		{`<style>body{background:url(x.png)}</style>`, 1},
		{`<div style="background-image:url('http://x')"></div>`, 1},
		{`<img src="x.png">`, 1},
	}
	for _, tt := range tests {
		if got := externalRefs([]byte(tt.doc)); len(got) != tt.want {
			t.Errorf("externalRefs(%q) = %v, want %d references", tt.doc, got, tt.want)
		}
	}
}

func TestRunReportHasNoExternalReferences(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderRunHTML(&buf, runSummary(t)); err != nil {
		t.Fatal(err)
	}
	if refs := externalRefs(buf.Bytes()); len(refs) > 0 {
		t.Errorf("the report references external resources: %v", refs)
	}
}

// probe runs in the browser after the report's own script and records what
// a reader would see.
const probe = `<script>
(function(){
var charts=[].slice.call(document.querySelectorAll('svg.chart'));
document.documentElement.setAttribute('data-probe', JSON.stringify({
  resources: performance.getEntriesByType('resource').map(function(r){return r.name}),
  errors: window.__errors,
  ready: document.documentElement.getAttribute('data-charts-ready'),
  chartWidths: charts.map(function(c){return Math.round(c.getBoundingClientRect().width)}),
  tips: document.querySelectorAll('.hover rect[data-tip]').length,
  titlesLeft: document.querySelectorAll('.hover rect title').length,
  images: document.images.length
}));
})();
</script>`

// TestRunReportRendersOfflineInChromium opens the report from a file://
// URL in headless Chromium with every host name unresolvable, and checks
// that its script ran without errors, that the charts have a size and
// that the browser fetched nothing.
func TestRunReportRendersOfflineInChromium(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		if testing.Short() {
			t.Skip("chromium not installed; -short skips the browser check")
		}
		t.Fatal("chromium is not installed: run `bash scripts/setup.sh` (or apt-get install chromium)")
	}
	var buf bytes.Buffer
	if err := RenderRunHTML(&buf, runSummary(t)); err != nil {
		t.Fatal(err)
	}
	doc := buf.String()
	doc = strings.Replace(doc, "<head>", `<head><script>window.__errors=[];window.addEventListener('error',function(e){window.__errors.push(String(e.message))});</script>`, 1)
	doc = strings.Replace(doc, "</body>", probe+"</body>", 1)
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser,
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
		"--host-resolver-rules=MAP * ~NOTFOUND", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--window-size=1280,2000", "--dump-dom", "file://"+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	m := regexp.MustCompile(`data-probe="([^"]*)"`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("the probe did not run; chromium printed:\n%.2000s\n%s", out, stderr.String())
	}
	var got struct {
		Resources   []string `json:"resources"`
		Errors      []string `json:"errors"`
		Ready       string   `json:"ready"`
		ChartWidths []int    `json:"chartWidths"`
		Tips        int      `json:"tips"`
		TitlesLeft  int      `json:"titlesLeft"`
		Images      int      `json:"images"`
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &got); err != nil {
		t.Fatalf("decoding the probe: %v: %s", err, m[1])
	}
	if len(got.Resources) > 0 {
		t.Errorf("the report fetched resources: %v", got.Resources)
	}
	if len(got.Errors) > 0 {
		t.Errorf("script errors: %v", got.Errors)
	}
	if got.Ready != "4" || len(got.ChartWidths) != 4 {
		t.Errorf("charts ready = %q, %d charts; want 4", got.Ready, len(got.ChartWidths))
	}
	if slices.Contains(got.ChartWidths, 0) {
		t.Errorf("a chart has no width: %v", got.ChartWidths)
	}
	// 40 seconds, one hover column per second on each of the 4 charts.
	if got.Tips != 4*40 || got.TitlesLeft != 0 {
		t.Errorf("hover columns with tooltips = %d (want %d), native titles left = %d", got.Tips, 4*40, got.TitlesLeft)
	}
	if got.Images != 0 {
		t.Errorf("the hostile request name became %d image element(s)", got.Images)
	}
	if testing.Verbose() {
		fmt.Printf("chromium probe: %+v\n", got)
	}
}
