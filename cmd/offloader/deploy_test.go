package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestDeploySystemd: the systemd example's config passes check once its
// key files exist, and the unit sets the hardening and limits it promises.
func TestDeploySystemd(t *testing.T) {
	conf, err := os.ReadFile("../../deploy/systemd/offloader.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := writeFiles(t, t.TempDir(), map[string]string{"offloader.yaml": string(conf)})
	path := filepath.Join(dir, "offloader.yaml")
	if code, _, _ := run("check", "-c", path); code != 1 {
		t.Error("the systemd example passes check without its key files")
	}
	writeFiles(t, dir, map[string]string{"keys/token.hex": tokenHex, "keys/sensor-0001.psk": pskHex})
	if code, out, errOut := run("check", "-c", path); code != 0 || out != "ok: 1 devices\n" || errOut != "" {
		t.Errorf("check: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	unit, err := os.ReadFile("../../deploy/systemd/tlsoffload-offloader.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\nNoNewPrivileges=yes\n", "\nPrivateTmp=yes\n", "\nProtectSystem=strict\n", "\nReadOnlyPaths=/etc/tlsoffload\n",
		"\nLimitNOFILE=65536\n", "\nExecReload=/bin/kill -HUP $MAINPID\n",
		"\nExecStart=/usr/local/bin/offloader serve --config /etc/tlsoffload/offloader.yaml\n",
	} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("the unit lacks %q", strings.TrimSpace(want))
		}
	}
}

// TestDeployKubernetes: the manifest holds a Deployment of several
// replicas probed on /healthz, a Service without session affinity, a
// Secret holding no usable key mounted owner-only, and a ConfigMap whose
// config passes check with the Secret filled in.
func TestDeployKubernetes(t *testing.T) {
	f, err := os.Open("../../deploy/kubernetes/offloader.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	docs := map[string]map[string]any{}
	dec := yaml.NewDecoder(f)
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		docs[doc["kind"].(string)] = doc
	}
	get := func(v any, path ...any) any {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				m, _ := v.(map[string]any)
				v = m[k]
			case int:
				l, _ := v.([]any)
				if k >= len(l) {
					return nil
				}
				v = l[k]
			}
		}
		return v
	}
	dep := docs["Deployment"]
	if n, _ := get(dep, "spec", "replicas").(int); n < 2 {
		t.Errorf("replicas: %v, want several", get(dep, "spec", "replicas"))
	}
	c := get(dep, "spec", "template", "spec", "containers", 0)
	for _, probe := range []string{"readinessProbe", "livenessProbe"} {
		if p := get(c, probe, "httpGet", "path"); p != "/healthz" {
			t.Errorf("%s path %v, want /healthz", probe, p)
		}
	}
	if a := get(docs["Service"], "spec", "sessionAffinity"); a != "None" {
		t.Errorf("Service sessionAffinity %v, want None", a)
	}
	var keysMode any
	for _, v := range get(dep, "spec", "template", "spec", "volumes").([]any) {
		if s := get(v, "secret"); s != nil {
			keysMode = get(s, "defaultMode")
		}
	}
	if keysMode != 0o400 {
		t.Errorf("the keys are mounted mode %v, want 0400", keysMode)
	}

	conf, _ := get(docs["ConfigMap"], "data", "offloader.yaml").(string)
	if conf == "" {
		t.Fatal("no offloader.yaml in the ConfigMap")
	}
	dir := t.TempDir()
	// The manifest names /etc/tlsoffload/keys: point it into the test's
	// directory, and write the Secret's values there.
	conf = strings.ReplaceAll(conf, "/etc/tlsoffload/keys/", filepath.Join(dir, "keys")+"/")
	secret := get(docs["Secret"], "stringData").(map[string]any)
	files := map[string]string{"offloader.yaml": conf}
	for name, v := range secret {
		files["keys/"+name] = v.(string)
	}
	writeFiles(t, dir, files)
	path := filepath.Join(dir, "offloader.yaml")
	if code, _, errOut := run("check", "-c", path); code != 1 || !strings.Contains(errOut, "not hex") {
		t.Errorf("with the Secret as shipped: exit %d, stderr %q; want refused", code, errOut)
	}
	for name := range secret {
		files["keys/"+name] = map[bool]string{true: tokenHex, false: pskHex}[name == "token.hex"]
	}
	writeFiles(t, dir, files)
	if code, out, errOut := run("check", "-c", path); code != 0 || out != "ok: 1 devices\n" || errOut != "" {
		t.Errorf("check: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
