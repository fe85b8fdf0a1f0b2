package main

import (
	"go/ast"
	goparser "go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// --help lists every option (with its short name), the rules ocurl
// decided, what it does not support, and every exit code, each of which
// the code uses.
func TestHelpComplete(t *testing.T) {
	code, out, _ := ocurl("--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, f := range flagSpecs {
		if f.long == "" {
			continue
		}
		want := "--" + f.long
		if f.short != 0 {
			want = "-" + string(f.short) + ", --" + f.long
		}
		if !strings.Contains(out, want+" ") && !strings.Contains(out, want+"\n") {
			t.Errorf("--help lacks %q", want)
		}
	}
	for _, want := range []string{"A URL without a scheme is http://", "Not supported", "TLS 1.3", "Exit codes"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}

	// Every exit constant is in the table --help prints, and used.
	fset := token.NewFileSet()
	f, err := goparser.ParseFile(fset, "exits.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[int]bool{}
	for _, e := range exitCodes {
		listed[e.code] = true
		if !strings.Contains(out, "\n  "+leftPad(e.code)+"  ") {
			t.Errorf("--help does not list exit code %d", e.code)
		}
	}
	var sources strings.Builder
	files, _ := filepath.Glob("*.go")
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || name == "exits.go" {
			continue
		}
		b, _ := os.ReadFile(name)
		sources.Write(b)
	}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					continue
				}
				n, _ := strconv.Atoi(lit.Value)
				if !listed[n] {
					t.Errorf("%s (%d) is not in exitCodes", name.Name, n)
				}
				if name.Name != "exitOK" && !strings.Contains(sources.String(), name.Name) {
					t.Errorf("%s is listed but nothing exits with it", name.Name)
				}
			}
		}
	}
}

func leftPad(n int) string {
	s := strconv.Itoa(n)
	return strings.Repeat(" ", 3-len(s)) + s
}
