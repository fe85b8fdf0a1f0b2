package pgtest

import (
	"testing"
)

// TestMissingFailsWhenRequired: CI (TLSOFFLOAD_REQUIRE_PEERS=1) fails
// rather than skipping when PostgreSQL is not installed.
func TestMissingFailsWhenRequired(t *testing.T) {
	noPath, debianGlob = true, t.TempDir()+"/none/*"
	defer func() { noPath, debianGlob = false, "/usr/lib/postgresql/*/bin" }()
	ran := false
	var s *Server
	t.Setenv("TLSOFFLOAD_REQUIRE_PEERS", "1")
	if code := Main(func() int { ran = true; return 0 }, &s); code != 1 || ran {
		t.Errorf("required and missing: exit %d, tests ran %v; want 1 and not run", code, ran)
	}
	t.Setenv("TLSOFFLOAD_REQUIRE_PEERS", "")
	if code := Main(func() int { ran = true; return 0 }, &s); code != 0 || !ran || s != nil {
		t.Errorf("not required and missing: exit %d, ran %v", code, ran)
	}
}

// TestStartRestartStop runs the real thing once.
func TestStartRestartStop(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if err := s.StopServer(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(false); err != nil {
		t.Fatal(err)
	}
}
