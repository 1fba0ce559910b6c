// Package api holds Gatehouse's public contract, the OpenAPI 3.0 document
// integrators read, embedded into the binary.
package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"gopkg.in/yaml.v3"
)

// specYAML is the OpenAPI document as written. A string, so nobody can modify it.
//
//go:embed openapi.yaml
var specYAML string

// specJSON converts specYAML to JSON once, on first use.
var specJSON = sync.OnceValues(func() ([]byte, error) {
	return yamlToJSON([]byte(specYAML))
})

// SpecYAML returns the OpenAPI document (OpenAPI 3.0.3, YAML) exactly as written in
// api/openapi.yaml. Each call returns a new copy that the caller may modify.
func SpecYAML() []byte {
	return []byte(specYAML)
}

// SpecJSON returns the OpenAPI document converted to JSON, with the keys in the order
// of the YAML file. The conversion runs once; each call returns a new copy that the
// caller may modify. An error means the embedded YAML cannot be expressed in JSON,
// which the package's tests rule out.
func SpecJSON() ([]byte, error) {
	b, err := specJSON()
	if err != nil {
		return nil, err
	}
	return bytes.Clone(b), nil
}

// yamlToJSON converts a YAML stream holding exactly one document to compact JSON,
// keeping the order of mapping keys. Anchors and aliases are resolved; merge keys
// (<<) are rejected. Timestamps and other non-JSON scalars become strings.
func yamlToJSON(in []byte) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(in))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("api: parse openapi.yaml: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("api: openapi.yaml must hold exactly one YAML document")
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, &doc, 0); err != nil {
		return nil, fmt.Errorf("api: convert openapi.yaml to JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// maxDepth bounds the nesting, so an alias cycle cannot recurse forever.
const maxDepth = 200

func writeJSON(buf *bytes.Buffer, n *yaml.Node, depth int) error {
	if depth > maxDepth {
		return errors.New("document nested too deeply")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return fmt.Errorf("line %d: expected one document, got %d", n.Line, len(n.Content))
		}
		return writeJSON(buf, n.Content[0], depth+1)
	case yaml.AliasNode:
		return writeJSON(buf, n.Alias, depth+1)
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.AliasNode {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: mapping key is not a scalar", k.Line)
			}
			if k.ShortTag() == "!!merge" {
				return fmt.Errorf("line %d: merge keys (<<) are not supported", k.Line)
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeString(buf, k.Value); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := writeJSON(buf, v, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, v := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, v, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case yaml.ScalarNode:
		return writeScalar(buf, n)
	default:
		return fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
	}
}

func writeScalar(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!null":
		buf.WriteString("null")
		return nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		buf.Write(b)
		return nil
	default: // !!str, !!timestamp, !!binary: JSON has only strings for these.
		return writeString(buf, n.Value)
	}
}

// writeString writes s as a JSON string, leaving <, > and & unescaped.
func writeString(buf *bytes.Buffer, s string) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // Encode appends a newline.
	return nil
}
