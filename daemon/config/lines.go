package config

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// keyLines maps every dotted key in a TOML document to the line it is on, so
// validation errors can point at the line a technician has to fix. Entries of
// arrays of tables are keyed as name[i].key.
func keyLines(b []byte) map[string]int {
	lines := map[string]int{}
	var p unstable.Parser
	p.Reset(b)
	var prefix string
	arrayCount := map[string]int{}
	lineAt := func(n *unstable.Node) int {
		r := n.Raw
		if r.Length == 0 && r.Offset == 0 {
			return 0
		}
		off := int(r.Offset)
		if off > len(b) {
			return 0
		}
		return bytes.Count(b[:off], []byte("\n")) + 1
	}
	keyOf := func(it unstable.Iterator) (string, *unstable.Node) {
		var parts []string
		var first *unstable.Node
		for it.Next() {
			n := it.Node()
			if first == nil {
				first = n
			}
			parts = append(parts, string(n.Data))
		}
		return strings.Join(parts, "."), first
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table:
			k, n := keyOf(e.Key())
			prefix = k
			if n != nil {
				lines[k] = lineAt(n)
			}
		case unstable.ArrayTable:
			k, n := keyOf(e.Key())
			i := arrayCount[k]
			arrayCount[k] = i + 1
			prefix = fmt.Sprintf("%s[%d]", k, i)
			if n != nil {
				lines[prefix] = lineAt(n)
			}
		case unstable.KeyValue:
			k, n := keyOf(e.Key())
			full := k
			if prefix != "" {
				full = prefix + "." + k
			}
			if n != nil {
				lines[full] = lineAt(n)
			}
		}
	}
	return lines
}
