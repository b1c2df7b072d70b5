package remoteconfig

import (
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Compose returns the local config file's YAML with the sections of each
// layer put in place, in order: a section a layer carries replaces that
// whole section (a later layer wins); sections no layer carries stay as the
// local file has them, and so does everything outside RemoteSections. The
// local file's own text is kept node for node, so the result decodes exactly
// as the local file would.
func Compose(local []byte, layers ...Sections) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(local, &doc); err != nil {
		return nil, fmt.Errorf("local config is not valid YAML: %w", err)
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("local config is not a YAML mapping")
	}
	root := doc.Content[0]
	for _, l := range layers {
		for _, name := range l.Names() {
			var v yaml.Node
			if err := v.Encode(l[name]); err != nil {
				return nil, fmt.Errorf("section %s: %w", name, err)
			}
			replaced := false
			for i := 0; i+1 < len(root.Content); i += 2 {
				if root.Content[i].Value == name {
					root.Content[i+1] = &v
					replaced = true
				}
			}
			if !replaced {
				root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name}, &v)
			}
		}
	}
	return yaml.Marshal(&doc)
}

// fileKeys are reader keys whose value names a file on the gateway
// (secrets, certificates, a reads file). A push may only name files that
// the local file's readers already name: otherwise a push could, say, make
// an MQTT reader send the Kafka password file to a broker of its choice.
var fileKeys = map[string]bool{"password_file": true, "path": true, "ca": true, "cert": true, "key": true}

// CheckFiles refuses pushed reader settings that name a local file the
// local config's readers do not name.
func CheckFiles(local []byte, layers ...Sections) error {
	var doc map[string]any
	if err := yaml.Unmarshal(local, &doc); err != nil {
		return fmt.Errorf("local config is not valid YAML: %w", err)
	}
	known := map[string]bool{}
	collectFiles(doc["readers"], "", func(_, v string) { known[v] = true })
	var problems []string
	for _, l := range layers {
		collectFiles(l["readers"], "readers", func(path, v string) {
			if !known[v] {
				problems = append(problems, fmt.Sprintf("%s: %q is not a file this gateway's local readers use; a push may only name files the local file already names", path, v))
			}
		})
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return nil
}

func collectFiles(v any, path string, fn func(path, value string)) {
	switch m := v.(type) {
	case []any:
		for i, x := range m {
			collectFiles(x, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case map[string]any:
		for k, x := range m {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if s, ok := x.(string); ok && fileKeys[k] {
				fn(p, s)
				continue
			}
			collectFiles(x, p, fn)
		}
	}
}
