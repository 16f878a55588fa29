package config

import (
	"encoding"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/storebox/storebox/internal/nearest"
)

// decoder fills a Config from a parsed TOML document one key at a time, so
// that every wrong key in a file is reported, not only the first one the
// TOML library stops at. Values are converted by go-toml itself; this walk
// only finds the field each key belongs to and names the key when it fails.
type decoder struct {
	file  string
	lines map[string]int
	errs  Errors
}

func (d *decoder) fail(key, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: d.lineOf(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// lineOf finds the line of key, or of the nearest enclosing table written
// in the file (keys inside inline tables have no line of their own).
func (d *decoder) lineOf(key string) int { return lineOf(d.lines, key) }

func lineOf(lines map[string]int, key string) int {
	for k := key; k != ""; {
		if n := lines[k]; n > 0 {
			return n
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// table decodes doc into the struct dst; prefix is the dotted path of dst.
func (d *decoder) table(prefix string, doc map[string]any, dst reflect.Value) {
	fields := tomlFields(dst.Type())
	for key, val := range doc {
		full := key
		if prefix != "" {
			full = prefix + "." + key
		}
		i, ok := fields[key]
		if !ok {
			if near := nearest.Name(key, slices.Sorted(maps.Keys(fields))); near != "" {
				d.fail(full, "unknown key (did you mean %s?)", strings.TrimSuffix(full, key)+near)
			} else {
				d.fail(full, "unknown key")
			}
			continue
		}
		d.value(full, val, dst.Field(i))
	}
}

// value decodes one TOML value into dst.
func (d *decoder) value(key string, val any, dst reflect.Value) {
	t := dst.Type()
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		// Durations: the type's own message ("not a duration ...") says
		// more than "must be a string" for `heartbeat = 15`.
		if err := dst.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(fmt.Sprint(val))); err != nil {
			d.fail(key, "%v", err)
		}
		return
	}
	switch {
	case t.Kind() == reflect.Struct:
		sub, ok := val.(map[string]any)
		if !ok {
			d.fail(key, "must be a table ([%s]), not %s", key, describe(val))
			return
		}
		d.table(key, sub, dst)
		return
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		items, ok := val.([]any)
		if !ok {
			d.fail(key, "must be an array of tables ([[%s]]), not %s", key, describe(val))
			return
		}
		out := reflect.MakeSlice(t, len(items), len(items))
		for i, item := range items {
			ik := fmt.Sprintf("%s[%d]", key, i)
			sub, ok := item.(map[string]any)
			if !ok {
				d.fail(ik, "must be a table, not %s", describe(item))
				continue
			}
			d.table(ik, sub, out.Index(i))
		}
		dst.Set(out)
		return
	}
	// A leaf: let go-toml convert it through a one-field document.
	b, err := toml.Marshal(map[string]any{"v": val})
	if err == nil {
		holder := reflect.New(reflect.StructOf([]reflect.StructField{{Name: "V", Type: t, Tag: `toml:"v"`}}))
		if err = toml.Unmarshal(b, holder.Interface()); err == nil {
			dst.Set(holder.Elem().Field(0))
			return
		}
	}
	d.fail(key, "must be %s, not %s", describeType(t), describe(val))
}

// tomlFields maps a struct's TOML key names to field indexes.
func tomlFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = i
	}
	return m
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string (in quotes)"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return "an array of strings"
		}
		return "an array"
	case reflect.Map:
		if t.Elem().Kind() == reflect.String {
			return "a table of strings"
		}
		return "a table"
	}
	return t.String()
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", x)
	case int64:
		return fmt.Sprintf("the number %d", x)
	case float64:
		return fmt.Sprintf("the number %v", x)
	case bool:
		return fmt.Sprintf("%v", x)
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case time.Time, toml.LocalDate, toml.LocalDateTime, toml.LocalTime:
		return fmt.Sprintf("the date/time %v", x)
	}
	return fmt.Sprintf("%v", v)
}
