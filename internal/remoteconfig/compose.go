package remoteconfig

import (
	"fmt"

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
