package certs_test

import (
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

// twinWant is what each profile answers for a twin's Bad chain (its Good
// chain is accepted by all): the reason, the rule (checked for every
// profile refusing with webpki's reason), where the refusal points ("leaf",
// "path[1]", "root", or "" for a refusal about the path), and whether
// crypto/x509 refuses Bad too.
type twinWant struct {
	webpki, rfc5280 certs.Reason
	rule            certs.Rule
	at              string
	x509Refuses     bool
}

var twinWants = map[string]twinWant{
	"eku/absent":       {certs.ReasonKeyUsage, 0, certs.RuleLeafEKU, "leaf", false},
	"eku/any-only":     {certs.ReasonKeyUsage, 0, certs.RuleLeafEKU, "leaf", false},
	"eku/empty":        {certs.ReasonMalformed, certs.ReasonMalformed, certs.RuleEmptyEKU, "leaf", false},
	"eku/client-only":  {certs.ReasonKeyUsage, certs.ReasonKeyUsage, certs.RuleLeafEKU, "leaf", true},
	"eku/intermediate": {certs.ReasonKeyUsage, certs.ReasonKeyUsage, certs.RuleChainEKU, "leaf", true},
	"eku/root":         {certs.ReasonKeyUsage, 0, certs.RuleRootEKU, "root", false},

	"aki/leaf":         {certs.ReasonNonConforming, 0, certs.RuleAKI, "leaf", false},
	"aki/intermediate": {certs.ReasonNonConforming, 0, certs.RuleAKI, "path[1]", false},
	"aki/critical":     {certs.ReasonMalformed, certs.ReasonMalformed, certs.RuleParse, "leaf", true},
	"ski/intermediate": {certs.ReasonNonConforming, 0, certs.RuleSKI, "path[1]", false},
	"ski/root":         {certs.ReasonNonConforming, 0, certs.RuleSKI, "root", false},
	"keyid/mismatch":   {certs.ReasonNonConforming, 0, certs.RuleKeyID, "leaf", false},

	"serial/zero":      {certs.ReasonNonConforming, 0, certs.RuleSerial, "leaf", false},
	"serial/21-octets": {certs.ReasonNonConforming, 0, certs.RuleSerial, "leaf", false},
	"serial/negative":  {certs.ReasonMalformed, certs.ReasonMalformed, certs.RuleParse, "leaf", true},

	"san/missing":          {certs.ReasonNonConforming, certs.ReasonNameMismatch, certs.RuleSANMissing, "leaf", true},
	"san/not-critical":     {certs.ReasonNonConforming, 0, certs.RuleSANCritical, "leaf", false},
	"cn/not-in-san":        {certs.ReasonNonConforming, 0, certs.RuleCommonName, "leaf", false},
	"cn/case":              {certs.ReasonNonConforming, 0, certs.RuleCommonName, "leaf", false},
	"cn/two":               {certs.ReasonNonConforming, 0, certs.RuleCommonName, "leaf", false},
	"dns/underscore":       {certs.ReasonNonConforming, 0, certs.RuleDNSUnderscore, "leaf", false},
	"dns/syntax":           {certs.ReasonNonConforming, 0, certs.RuleDNSSyntax, "leaf", false},
	"dns/wildcard-suffix":  {certs.ReasonNonConforming, 0, certs.RuleWildcardSuffix, "leaf", false},
	"dns/wildcard-multi":   {certs.ReasonNonConforming, 0, certs.RuleWildcard, "leaf", false},
	"dns/wildcard-partial": {certs.ReasonNonConforming, 0, certs.RuleWildcard, "leaf", false},
	"name/mismatch":        {certs.ReasonNameMismatch, certs.ReasonNameMismatch, certs.RuleServerName, "leaf", true},

	"leaf/ca":            {certs.ReasonKeyUsage, 0, certs.RuleCAAsLeaf, "leaf", false},
	"leaf/key-cert-sign": {certs.ReasonKeyUsage, 0, certs.RuleLeafKeyCertSign, "leaf", false},
	"bc/not-critical":    {certs.ReasonNonConforming, 0, certs.RuleBasicConstraints, "path[1]", false},
	"nc/leaf":            {certs.ReasonNonConforming, 0, certs.RuleNameConstraintsLeaf, "leaf", false},
	"nc/not-critical":    {certs.ReasonNonConforming, 0, certs.RuleNameConstraintsCrit, "path[1]", false},
	"nc/leading-period":  {certs.ReasonNonConforming, 0, certs.RuleNameConstraintsSyn, "path[1]", false},
	"nc/violated":        {certs.ReasonNameMismatch, certs.ReasonNameMismatch, certs.RuleNameConstraints, "leaf", true},
	"nc/work":            {certs.ReasonNonConforming, certs.ReasonNonConforming, certs.RuleNameConstraintsWork, "", false},
	"pc/not-critical":    {certs.ReasonNonConforming, 0, certs.RulePolicyConstraints, "path[1]", false},
	"depth/7":            {certs.ReasonNonConforming, 0, certs.RulePathDepth, "", false},

	"rsa/leaf-1024":                     {certs.ReasonWeakKey, certs.ReasonWeakKey, certs.RuleRSASize, "leaf", false},
	"rsa/modulus":                       {certs.ReasonWeakKey, 0, certs.RuleRSAModulus, "leaf", false},
	"rsa/intermediate-1024":             {certs.ReasonWeakKey, certs.ReasonWeakKey, certs.RuleRSASize, "path[1]", false},
	"rsa/root-1024":                     {certs.ReasonWeakKey, 0, certs.RuleRSASize, "root", false},
	"rsa/self-issued-intermediate-1024": {certs.ReasonWeakKey, certs.ReasonWeakKey, certs.RuleRSASize, "path[1]", false},
	"curve/p224":                        {certs.ReasonWeakKey, certs.ReasonWeakKey, certs.RuleCurve, "leaf", false},
	"sig/sha1-leaf":                     {certs.ReasonWeakSignature, certs.ReasonWeakSignature, certs.RuleSignature, "leaf", true},
	"sig/sha1-intermediate":             {certs.ReasonWeakSignature, certs.ReasonWeakSignature, certs.RuleSignature, "path[1]", true},

	"validity/leaf-expired":         {certs.ReasonExpired, certs.ReasonExpired, certs.RuleValidity, "leaf", true},
	"validity/leaf-not-yet-valid":   {certs.ReasonNotYetValid, certs.ReasonNotYetValid, certs.RuleValidity, "leaf", true},
	"validity/intermediate-expired": {certs.ReasonExpired, certs.ReasonExpired, certs.RuleValidity, "path[1]", true},
	"anchor/leaf-not-trusted":       {certs.ReasonUnknownAuthority, certs.ReasonUnknownAuthority, certs.RuleNoPath, "leaf", true},
	"anchor/leaf-expired":           {certs.ReasonExpired, certs.ReasonExpired, certs.RuleValidity, "leaf", true},
	"anchor/leaf-wrong-name":        {certs.ReasonNameMismatch, certs.ReasonNameMismatch, certs.RuleServerName, "leaf", true},
}

type builtTwin struct {
	testpki.Twin
	bad, good *testpki.Case
}

var (
	twinsOnce sync.Once
	twinsErr  error
	twinCases []builtTwin
)

// builtTwins makes every twin once for the package's tests.
func builtTwins(t testing.TB) []builtTwin {
	t.Helper()
	twinsOnce.Do(func() {
		for _, tw := range testpki.Twins() {
			bad, err := tw.Bad(now)
			if err != nil {
				twinsErr = err
				return
			}
			good, err := tw.Good(now)
			if err != nil {
				twinsErr = err
				return
			}
			twinCases = append(twinCases, builtTwin{tw, bad, good})
		}
	})
	if twinsErr != nil {
		t.Fatal(twinsErr)
	}
	return twinCases
}

var profiles = []certs.Profile{certs.ProfileWebPKI, certs.ProfileRFC5280}

func (w twinWant) reason(p certs.Profile) certs.Reason {
	if p == certs.ProfileRFC5280 {
		return w.rfc5280
	}
	return w.webpki
}

func verifyTwin(c *testpki.Case, p certs.Profile) ([]*x509.Certificate, error) {
	v := &certs.Verifier{Roots: c.Roots, Time: func() time.Time { return now }, Profile: p}
	return v.Verify(c.Chain, c.ServerName)
}

// x509Verify is crypto/x509's verdict on a case, for the cross-check.
func x509Verify(c *testpki.Case) error {
	leaf, err := x509.ParseCertificate(c.Chain[0])
	if err != nil {
		return err
	}
	inter := x509.NewCertPool()
	for _, der := range c.Chain[1:] {
		ic, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		inter.AddCert(ic)
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: c.Roots, Intermediates: inter, CurrentTime: now,
		DNSName: c.ServerName, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

// TestProfileTwins: for every rule, the chain breaking it is refused by the
// profiles that apply the rule, with the rule named, the certificate at
// fault named, and its twin is accepted by every profile and by
// crypto/x509.
func TestProfileTwins(t *testing.T) {
	seen := map[string]bool{}
	for _, tw := range builtTwins(t) {
		seen[tw.Rule] = true
		want, ok := twinWants[tw.Rule]
		if !ok {
			t.Errorf("twin %q has no expectation", tw.Rule)
			continue
		}
		t.Run(tw.Rule, func(t *testing.T) {
			if err := x509Verify(tw.good); err != nil {
				t.Errorf("crypto/x509 refuses the good twin: %v", err)
			}
			if err := x509Verify(tw.bad); (err != nil) != want.x509Refuses {
				t.Errorf("crypto/x509 on the bad twin: %v, want refused %v", err, want.x509Refuses)
			}
			for _, p := range profiles {
				path, err := verifyTwin(tw.good, p)
				if err != nil {
					t.Errorf("%v refuses the good twin: %v", p, err)
				} else if tw.good.Leaf != nil && !path[0].Equal(tw.good.Leaf) {
					t.Errorf("%v: the path does not start at the leaf", p)
				}
				_, err = verifyTwin(tw.bad, p)
				wantReason := want.reason(p)
				if got := reasonOf(t, err); got != wantReason {
					t.Errorf("%v: bad twin (%s): reason %v (%v), want %v", p, tw.Breaks, got, err, wantReason)
					continue
				}
				if err == nil {
					continue
				}
				var ce *certs.Error
				errors.As(err, &ce)
				if wantReason == want.webpki && ce.Rule != want.rule {
					t.Errorf("%v: rule %v (%v), want %v", p, ce.Rule, err, want.rule)
				}
				if want.at != "" {
					// A certificate that does not parse is named by its
					// position alone.
					if !strings.HasPrefix(ce.Detail, want.at+" ") && !strings.HasPrefix(ce.Detail, want.at+":") ||
						ce.Cert == nil && ce.Rule != certs.RuleParse {
						t.Errorf("%v: detail %q (certificate %v) does not name the %s", p, ce.Detail, ce.Cert != nil, want.at)
					}
				}
				if len(ce.Detail) > certs.MaxDetailLen {
					t.Errorf("%v: detail of %d bytes", p, len(ce.Detail))
				}
			}
		})
	}
	for rule := range twinWants {
		if !seen[rule] {
			t.Errorf("expectation for %q but no such twin", rule)
		}
	}
}

func TestParseProfile(t *testing.T) {
	for in, want := range map[string]certs.Profile{"": certs.ProfileWebPKI, "webpki": certs.ProfileWebPKI, "rfc5280": certs.ProfileRFC5280} {
		if got, err := certs.ParseProfile(in); err != nil || got != want {
			t.Errorf("ParseProfile(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"legacy", "WebPKI", "rfc 5280", "x"} {
		if _, err := certs.ParseProfile(in); err == nil || !strings.HasPrefix(err.Error(), "certs: ") {
			t.Errorf("ParseProfile(%q): %v", in, err)
		}
	}
	for _, p := range profiles {
		if back, err := certs.ParseProfile(p.String()); err != nil || back != p {
			t.Errorf("%v does not round-trip", p)
		}
	}
}

// Every rule has a distinct snake_case name.
func TestRuleString(t *testing.T) {
	seen := map[string]certs.Rule{}
	for r := certs.RuleNone; ; r++ {
		s := r.String()
		if strings.HasPrefix(s, "rule(") {
			if r < certs.RuleCRLStale {
				t.Errorf("%d has no name", r)
			}
			break
		}
		if s == "" || strings.ContainsAny(s, " -ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			t.Errorf("%d: %q is not a snake_case label", r, s)
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("%d and %d both read %q", prev, r, s)
		}
		seen[s] = r
	}
}
