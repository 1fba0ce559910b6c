package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestSpecYAMLIsOpenAPI303(t *testing.T) {
	var doc struct {
		OpenAPI string         `yaml:"openapi"`
		Paths   map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(SpecYAML(), &doc); err != nil {
		t.Fatalf("openapi.yaml does not parse: %v", err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	if len(doc.Paths) == 0 {
		t.Error("no paths")
	}
}

func TestSpecJSONEqualsYAML(t *testing.T) {
	js, err := SpecJSON()
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON any
	if err := json.Unmarshal(js, &fromJSON); err != nil {
		t.Fatalf("SpecJSON is not JSON: %v", err)
	}

	var fromYAML any
	if err := yaml.Unmarshal(SpecYAML(), &fromYAML); err != nil {
		t.Fatal(err)
	}
	// Normalise the YAML value through encoding/json (numbers become float64).
	b, err := json.Marshal(fromYAML)
	if err != nil {
		t.Fatalf("YAML value does not marshal to JSON: %v", err)
	}
	var normalised any
	if err := json.Unmarshal(b, &normalised); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJSON, normalised) {
		t.Error("SpecJSON differs from openapi.yaml")
	}
}

func TestSpecJSONKeepsKeyOrder(t *testing.T) {
	js, err := SpecJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(js, []byte(`{"openapi":"3.0.3","info":{"title":"Gatehouse"`)) {
		t.Errorf("SpecJSON starts with %.60s", js)
	}
	if strings.Contains(string(js), `\u003c`) {
		t.Error("SpecJSON escapes < as \\u003c")
	}
}

func TestSpecReturnsCopies(t *testing.T) {
	y := SpecYAML()
	y[0] = 'X'
	if SpecYAML()[0] == 'X' {
		t.Error("SpecYAML returned shared memory")
	}
	j, err := SpecJSON()
	if err != nil {
		t.Fatal(err)
	}
	j[0] = 'X'
	j2, _ := SpecJSON()
	if j2[0] == 'X' {
		t.Error("SpecJSON returned shared memory")
	}
}

func TestSpecJSONConcurrent(t *testing.T) {
	want, err := SpecJSON()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			got, err := SpecJSON()
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("concurrent SpecJSON: err=%v, equal=%t", err, bytes.Equal(got, want))
			}
		})
	}
	wg.Wait()
}

func TestYAMLToJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"scalars", "a: 1\nb: 1.5\nc: true\nd: null\ne: ~\nf: text\ng: '200'\n",
			`{"a":1,"b":1.5,"c":true,"d":null,"e":null,"f":"text","g":"200"}`},
		{"key order kept", "z: 1\na: 2\nm: 3\n", `{"z":1,"a":2,"m":3}`},
		{"numeric keys become strings", "200: ok\n", `{"200":"ok"}`},
		{"timestamps stay strings", "t: 2026-11-25T22:30:00Z\n", `{"t":"2026-11-25T22:30:00Z"}`},
		{"sequences", "s: [1, two, {x: y}]\n", `{"s":[1,"two",{"x":"y"}]}`},
		{"aliases", "a: &x {k: v}\nb: *x\n", `{"a":{"k":"v"},"b":{"k":"v"}}`},
		{"html not escaped", "h: '<b>&</b>'\n", `{"h":"<b>&</b>"}`},
		{"block text", "d: |\n  line 1\n  line 2\n", `{"d":"line 1\nline 2\n"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := yamlToJSON([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}

	for name, in := range map[string]string{
		"merge key":    "a: &x {k: v}\nb:\n  <<: *x\n",
		"infinity":     "a: .inf\n",
		"not yaml":     "a: [\n",
		"two docs":     "a: 1\n---\nb: 2\n",
		"complex keys": "? [a, b]\n: c\n",
	} {
		t.Run("rejects "+name, func(t *testing.T) {
			if got, err := yamlToJSON([]byte(in)); err == nil {
				t.Errorf("no error; got %s", got)
			}
		})
	}
}
