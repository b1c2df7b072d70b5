package config

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file makes config problems easier to fix: the line of the file a
// key path is on, "did you mean" for a misspelt key or environment
// variable, and where the annotated example config is.

// InstalledExample is where the .deb puts the example config of the
// installed version (packaging/nfpm.yaml); repoExample is the same file in
// a source checkout.
const (
	InstalledExample = "/usr/share/doc/rfidgw/examples/gateway.yaml"
	repoExample      = "configs/example.yaml"
)

// exampleConfig names the example config a hint should point to: the
// installed one, else the checkout's (running from the repository), else
// the installed path anyway (where a package would put it).
var exampleConfig = func() string {
	if _, err := os.Stat(InstalledExample); err == nil {
		return InstalledExample
	}
	if _, err := os.Stat(repoExample); err == nil {
		return repoExample
	}
	return InstalledExample
}

// yamlIndex maps key paths ("uplink.kafka.brokers", "readers[2].baud") to
// the line they are on in the file.
type yamlIndex map[string]int

// indexYAML parses the file's YAML into a key path -> line index; a file
// that does not parse gives an empty index (viper reports the syntax).
func indexYAML(data []byte) yamlIndex {
	idx := yamlIndex{}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return idx
	}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := joinKey(path, strings.ToLower(k.Value))
				if _, dup := idx[p]; !dup {
					idx[p] = k.Line
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := path + "[" + strconv.Itoa(i) + "]"
				idx[p] = c.Line
				walk(c, p)
			}
		case yaml.AliasNode:
			if n.Alias != nil {
				walk(n.Alias, path)
			}
		}
	}
	walk(doc.Content[0], "")
	return idx
}

func joinKey(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// line returns the line of key path p, or of its nearest ancestor in the
// file; 0 when none is (a default, or an environment variable).
func (idx yamlIndex) line(p string) int {
	for p != "" {
		if l, ok := idx[strings.ToLower(p)]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

var indexRe = regexp.MustCompile(`\[\d+\]`)

// keysAt lists the keys allowed next to key path p (its siblings), found
// by walking the Config struct's mapstructure tags; nil when the place
// takes any key (a map such as librdkafka) or is unknown.
func keysAt(root reflect.Type, p string) []string {
	parts := strings.Split(indexRe.ReplaceAllString(p, ""), ".")
	t := root
	for _, part := range parts[:len(parts)-1] {
		t = deref(t)
		if t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := fieldByTag(t, part)
		if !ok {
			return nil
		}
		t = f
	}
	t = deref(t)
	if t.Kind() != reflect.Struct {
		return nil
	}
	return tagsOf(t)
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	return t
}

// tagsOf lists the mapstructure keys of a struct (squashed ones inlined).
func tagsOf(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if strings.Contains(opts, "squash") {
			out = append(out, tagsOf(deref(f.Type))...)
			continue
		}
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		out = append(out, name)
	}
	return out
}

func fieldByTag(t reflect.Type, key string) (reflect.Type, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if strings.Contains(opts, "squash") {
			if ft, ok := fieldByTag(deref(f.Type), key); ok {
				return ft, true
			}
			continue
		}
		if name == key {
			return f.Type, true
		}
	}
	return nil, false
}

// suggest returns the candidate closest to word when it is close enough
// to be a misspelling (edit distance at most 2, and less than half the
// word), else "".
func suggest(word string, candidates []string) string {
	best, bestD := "", 3
	lw := strings.ToLower(word)
	for _, c := range candidates {
		if c == word {
			continue
		}
		d := editDistance(lw, strings.ToLower(c))
		if d < bestD || (d == bestD && best != "" && c < best) {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > 2 || bestD*2 >= len(word) {
		return ""
	}
	return best
}

// editDistance is the Damerau-Levenshtein distance (optimal string
// alignment): a swap of two neighbours counts as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// envSections are the first words of the config's environment variables
// (RFIDGW_EDGE_DWELL): a variable starting so is meant for the config.
func envSections(root reflect.Type) []string {
	var out []string
	for _, k := range tagsOf(root) {
		out = append(out, strings.ToUpper(k))
	}
	return out
}

// unknownEnv returns the RFIDGW_ variables of environ that no config key
// reads although they look meant for the config: their first word is a
// config section (RFIDGW_EDGE_DWEL) or they are a misspelling of a known
// one. Other RFIDGW_ variables (tools and tests: RFIDGW_BIN, ...) are left
// alone. Each comes with the known variable it most likely meant ("" if
// none is close).
func unknownEnv(environ []string, known []string, sections []string) map[string]string {
	knownSet := map[string]bool{}
	for _, k := range known {
		knownSet[k] = true
	}
	out := map[string]string{}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(name, EnvPrefix+"_")
		if !ok || knownSet[name] {
			continue
		}
		first, _, _ := strings.Cut(rest, "_")
		mean := suggest(name, known)
		if mean != "" || containsStr(sections, first) {
			out[name] = mean
		}
	}
	return out
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
