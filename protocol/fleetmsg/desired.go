package fleetmsg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/storebox/storebox/internal/nearest"
	"github.com/storebox/storebox/protocol/devmsg"
	"github.com/storebox/storebox/protocol/doormsg"
)

// Desired is the body of GET /v1/stores/<s>/config (and of the reference
// cloud's PUT /v1/admin/stores/<s>/config): a version and the sections of
// the TOML file, as JSON, that apply without a restart. Sections are nested
// as in the file:
//
//	{"version": 7, "config": {
//	   "doors": [{"id": "D1", "secret": "...", "policy": "entry", "terminal": "T-01", "staff": [], "open_ms": 3000}],
//	   "devices": {"admission": "pairing", "approve": ["T-02"], "reject": ["T-09"]},
//	   "orders": {"payment_ttl": "15m"}}}
//
// A section that is absent leaves the local file's section in force.
type Desired struct {
	Version Version         `json:"version"`
	Config  json.RawMessage `json:"config"`
}

// Document is a checked desired configuration; nil means "not set remotely".
type Document struct {
	Doors   *[]Door         `json:"doors,omitempty"`
	Devices *DevicesSection `json:"devices,omitempty"`
	Orders  *OrdersSection  `json:"orders,omitempty"`
}

// DevicesSection holds the device keys that apply live.
type DevicesSection struct {
	Admission *string   `json:"admission,omitempty"`
	Approve   *[]string `json:"approve,omitempty"`
	Reject    *[]string `json:"reject,omitempty"`
}

// OrdersSection holds the order keys that apply live.
type OrdersSection struct {
	PaymentTTL *Duration `json:"payment_ttl,omitempty"`
}

// Door is one [[doors]] entry, as in the TOML file.
type Door struct {
	ID       string   `json:"id"`
	Secret   string   `json:"secret"`
	Policy   string   `json:"policy"`
	Terminal string   `json:"terminal,omitempty"`
	Staff    []string `json:"staff,omitempty"`
	OpenMS   int      `json:"open_ms,omitempty"`
}

// Duration is a Go duration string such as "15m".
type Duration struct{ time.Duration }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.Duration.String()) }

// KeyError is a refusal that names the dotted key at fault.
type KeyError struct {
	Key string // e.g. "devices.admission", "doors[1].policy", "upstream"
	Msg string
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Msg }

// MaxVersion is the highest document version: the largest whole number a
// JSON number holds exactly in every reader (2^53-1). Above it a cloud in
// JavaScript would round it, and a version at 2^64-1 would leave no later
// version to apply.
const MaxVersion Version = 1<<53 - 1

// MaxDocument is the largest desired-configuration body either side accepts.
const MaxDocument = 1 << 20

// FileKeys are the TOML file's keys in the sections a remote document
// touches ("" is the top level, "doors" a [[doors]] entry), so that a key
// the file has but a document may not set is told apart from a typo.
// daemon/config's tests hold this to the Config type.
var FileKeys = map[string][]string{
	"":        {"store_id", "store_name", "data_dir", "warehouse", "log", "devices", "discovery", "mqtt", "http", "upstream", "orders", "payments", "doors", "scales", "fleet", "receipt", "printers"},
	"devices": {"listen", "admission", "heartbeat", "max_connections", "max_conns_per_address", "new_devices_per_minute", "outbound_queue", "tokens", "approve", "reject"},
	"orders":  {"payment_ttl", "retention"},
	"doors":   {"id", "secret", "policy", "terminal", "staff", "open_ms"},
}

// The keys a remote document may set; everything else needs a restart or is
// not the cloud's to change.
var (
	topKeys     = []string{"devices", "doors", "orders"}
	deviceKeys  = []string{"admission", "approve", "reject"}
	orderKeys   = []string{"payment_ttl"}
	doorKeys    = []string{"id", "secret", "policy", "terminal", "staff", "open_ms"}
	admissions  = []string{"open", "pairing"}
	doorPolicys = []string{"entry", "exit", "staff"}
)

// ParseDesired decodes and checks a whole desired-configuration reply.
func ParseDesired(body []byte) (Desired, Document, error) {
	if len(body) > MaxDocument {
		return Desired{}, Document{}, fmt.Errorf("document is %d bytes, over the %d limit", len(body), MaxDocument)
	}
	var d Desired
	if err := strictDecode(body, &d); err != nil {
		return Desired{}, Document{}, fmt.Errorf("document: %w", err)
	}
	if d.Version == 0 || d.Version > MaxVersion {
		return Desired{}, Document{}, &KeyError{Key: "version", Msg: fmt.Sprintf("must be a whole number from 1 to %d (2^53-1, exact in JSON everywhere)", uint64(MaxVersion))}
	}
	doc, err := CheckConfig(d.Config)
	if err != nil {
		return Desired{}, Document{}, err
	}
	return d, doc, nil
}

// StatedVersion is the version a document states, read loosely: refused
// documents are named by it. 0 when the body is not JSON or has no
// version.
func StatedVersion(body []byte) Version {
	var d struct {
		Version Version `json:"version"`
	}
	if json.Unmarshal(body, &d) != nil {
		return 0
	}
	return d.Version
}

// CheckConfig checks the "config" object of a desired configuration: only the
// keys UPSTREAM.md §7 allows, each with a valid value. The first fault (in key
// order) is returned as a *KeyError.
func CheckConfig(raw json.RawMessage) (Document, error) {
	var doc Document
	top, err := object(raw, "config")
	if err != nil {
		return doc, err
	}
	if err := onlyKeys(top, "", "", topKeys); err != nil {
		return doc, err
	}
	if v, ok := top["devices"]; ok {
		sec, err := object(v, "devices")
		if err != nil {
			return doc, err
		}
		if err := onlyKeys(sec, "devices.", "devices", deviceKeys); err != nil {
			return doc, err
		}
		doc.Devices = &DevicesSection{}
		if v, ok := sec["admission"]; ok {
			s, err := oneOf(v, "devices.admission", admissions)
			if err != nil {
				return doc, err
			}
			doc.Devices.Admission = &s
		}
		for _, k := range []string{"approve", "reject"} {
			v, ok := sec[k]
			if !ok {
				continue
			}
			ids, err := idList(v, "devices."+k, devmsg.CheckEquipID)
			if err != nil {
				return doc, err
			}
			if k == "approve" {
				doc.Devices.Approve = &ids
			} else {
				doc.Devices.Reject = &ids
			}
		}
		if doc.Devices.Approve != nil && doc.Devices.Reject != nil {
			approved := make(map[string]bool, len(*doc.Devices.Approve))
			for _, a := range *doc.Devices.Approve {
				approved[a] = true
			}
			for _, r := range *doc.Devices.Reject {
				if approved[r] {
					return doc, &KeyError{Key: "devices.reject", Msg: fmt.Sprintf("%q is also in devices.approve", r)}
				}
			}
		}
	}
	if v, ok := top["doors"]; ok {
		doors, err := checkDoors(v)
		if err != nil {
			return doc, err
		}
		doc.Doors = &doors
	}
	if v, ok := top["orders"]; ok {
		sec, err := object(v, "orders")
		if err != nil {
			return doc, err
		}
		if err := onlyKeys(sec, "orders.", "orders", orderKeys); err != nil {
			return doc, err
		}
		doc.Orders = &OrdersSection{}
		if v, ok := sec["payment_ttl"]; ok {
			var s string
			if json.Unmarshal(v, &s) != nil {
				return doc, &KeyError{Key: "orders.payment_ttl", Msg: "must be a duration string such as \"15m\""}
			}
			d, err := time.ParseDuration(s)
			if err != nil {
				return doc, &KeyError{Key: "orders.payment_ttl", Msg: fmt.Sprintf("%q is not a duration (use e.g. \"90s\", \"15m\")", s)}
			}
			if d < time.Second {
				return doc, &KeyError{Key: "orders.payment_ttl", Msg: "must be at least 1s"}
			}
			doc.Orders.PaymentTTL = &Duration{d}
		}
	}
	return doc, nil
}

func checkDoors(raw json.RawMessage) ([]Door, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, &KeyError{Key: "doors", Msg: "must be a list of door tables"}
	}
	doors := make([]Door, 0, len(items))
	seen := map[string]bool{}
	for i, it := range items {
		key := fmt.Sprintf("doors[%d]", i)
		obj, err := object(it, key)
		if err != nil {
			return nil, err
		}
		if err := onlyKeys(obj, key+".", "doors", doorKeys); err != nil {
			return nil, err
		}
		var d Door
		str := func(k string, dst *string) error {
			v, ok := obj[k]
			if !ok {
				return nil
			}
			if json.Unmarshal(v, dst) != nil {
				return &KeyError{Key: key + "." + k, Msg: "must be a string"}
			}
			return nil
		}
		for k, dst := range map[string]*string{"id": &d.ID, "secret": &d.Secret, "policy": &d.Policy, "terminal": &d.Terminal} {
			if err := str(k, dst); err != nil {
				return nil, err
			}
		}
		if v, ok := obj["staff"]; ok {
			if d.Staff, err = idList(v, key+".staff", nil); err != nil {
				return nil, err
			}
		}
		if v, ok := obj["open_ms"]; ok {
			if json.Unmarshal(v, &d.OpenMS) != nil || d.OpenMS < 0 {
				return nil, &KeyError{Key: key + ".open_ms", Msg: "must be a whole number of milliseconds ≥ 0 (0: the default)"}
			}
		}
		switch {
		case d.ID == "" || strings.ContainsAny(d.ID, "/#+ "):
			return nil, &KeyError{Key: key + ".id", Msg: "must be non-empty without '/', '#', '+' or spaces"}
		case seen[d.ID]:
			return nil, &KeyError{Key: key + ".id", Msg: fmt.Sprintf("duplicate door id %q", d.ID)}
		case d.Secret == "":
			return nil, &KeyError{Key: key + ".secret", Msg: "must not be empty"}
		}
		if err := doormsg.CheckSecret(d.Secret); err != nil {
			return nil, &KeyError{Key: key + ".secret", Msg: err.Error()}
		}
		if !contains(doorPolicys, d.Policy) {
			return nil, &KeyError{Key: key + ".policy", Msg: fmt.Sprintf("%q is not one of %s", d.Policy, strings.Join(doorPolicys, ", "))}
		}
		seen[d.ID] = true
		doors = append(doors, d)
	}
	return doors, nil
}

func object(raw json.RawMessage, key string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, &KeyError{Key: key, Msg: "must be a JSON object"}
	}
	return m, nil
}

// onlyKeys refuses the first key (sorted, so the message is stable) not in
// allowed: a key of the file's section is one that needs a restart, any
// other is unknown, named with the nearest key the file has.
func onlyKeys(m map[string]json.RawMessage, prefix, section string, allowed []string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch {
		case contains(allowed, k):
		case contains(FileKeys[section], k):
			return &KeyError{Key: prefix + k, Msg: "cannot be set remotely: it needs a restart (only " + remoteKeys() + " apply without one)"}
		default:
			msg := "unknown key"
			if near := nearest.Name(k, FileKeys[section]); near != "" {
				msg += " (did you mean " + prefix + near + "?)"
			}
			return &KeyError{Key: prefix + k, Msg: msg}
		}
	}
	return nil
}

func remoteKeys() string { return strings.Join(RemoteSections, ", ") }

func oneOf(raw json.RawMessage, key string, allowed []string) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) != nil || !contains(allowed, s) {
		return "", &KeyError{Key: key, Msg: fmt.Sprintf("%s is not one of %s", bytes.TrimSpace(raw), strings.Join(allowed, ", "))}
	}
	return s, nil
}

// idList decodes a list of ids, none empty, each passing check when given.
func idList(raw json.RawMessage, key string, check func(string) error) ([]string, error) {
	var ids []string
	if json.Unmarshal(raw, &ids) != nil {
		return nil, &KeyError{Key: key, Msg: "must be a list of strings"}
	}
	if ids == nil {
		ids = []string{}
	}
	for i, id := range ids {
		if strings.TrimSpace(id) == "" {
			return nil, &KeyError{Key: fmt.Sprintf("%s[%d]", key, i), Msg: "must not be empty"}
		}
		if check == nil {
			continue
		}
		if err := check(id); err != nil {
			return nil, &KeyError{Key: fmt.Sprintf("%s[%d]", key, i), Msg: fmt.Sprintf("equipId %v (1-%d bytes, no control characters)", err, devmsg.MaxEquipID)}
		}
	}
	return ids, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// strictDecode decodes one JSON value with no unknown fields and nothing
// after it.
func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}
