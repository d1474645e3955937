// Package docs holds the project's documentation; its test keeps the
// section citations of the Go code pointing into docs/architecture.md.
package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// citationRE matches "§4.3", "§2" and the ranges "§3.1–3.3", "§4.1-4.4".
var citationRE = regexp.MustCompile(`§(\d+(?:\.\d+)*)(?:\s*[–-]\s*(\d+(?:\.\d+)*))?`)

// headingRE matches a numbered heading: "## 4. Backfill", "### 4.3 Fences".
var headingRE = regexp.MustCompile(`(?m)^#{2,4} (\d+(?:\.\d+)*)\.? `)

// TestArchitectureCitations checks that every "§N" or "§N.M" cited in a
// Go comment (or string) of the repository names a section of
// docs/architecture.md.
func TestArchitectureCitations(t *testing.T) {
	doc, err := os.ReadFile("architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	for _, m := range headingRE.FindAllStringSubmatch(string(doc), -1) {
		sections[m[1]] = true
	}
	if len(sections) == 0 {
		t.Fatal("docs/architecture.md has no numbered sections")
	}
	cited := 0
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != ".." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			for _, m := range citationRE.FindAllStringSubmatch(line, -1) {
				for _, n := range m[1:] {
					if n == "" {
						continue
					}
					cited++
					if !sections[n] {
						t.Errorf("%s:%d cites §%s, which docs/architecture.md does not have", path, i+1, n)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if cited == 0 {
		t.Error("found no § citation in the Go sources; is the walk looking in the right place?")
	}
	t.Logf("%d citations checked against %d sections", cited, len(sections))
}
