package cloudref

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"sync"

	"github.com/storebox/storebox/protocol/goods"
	"github.com/storebox/storebox/sync/cloudref/cloudkit"
)

// catalog is a versioned goods table: every change (new, changed or deleted
// gid) takes the next version; the feed cursor is the last version a client
// has seen. Only the latest change per gid is kept, so a page never holds the
// same gid twice.
type catalog struct {
	mu      sync.Mutex
	path    string                   // state file; "" = memory only
	Next    uint64                   `json:"next"`
	Entries map[string]*catalogEntry `json:"entries"`
}

type catalogEntry struct {
	Ver     uint64      `json:"ver"`
	Goods   goods.Goods `json:"goods"`
	Deleted bool        `json:"deleted,omitempty"`
}

func openCatalog(dataDir, file string) (*catalog, error) {
	c := &catalog{Entries: map[string]*catalogEntry{}}
	if dataDir != "" {
		c.path = filepath.Join(dataDir, "catalog.json")
		b, err := os.ReadFile(c.path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("read catalog state: %w", err)
		default:
			if err := json.Unmarshal(b, c); err != nil {
				return nil, fmt.Errorf("catalog state %s: %w", c.path, err)
			}
			if c.Entries == nil {
				c.Entries = map[string]*catalogEntry{}
			}
		}
	}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("catalog file: %w", err)
		}
		defer f.Close()
		items, err := ParseGoods(f)
		if err != nil {
			return nil, fmt.Errorf("catalog file %s: %w", file, err)
		}
		if err := c.apply(items, true); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ParseGoods reads a JSON array of goods or JSON Lines (one goods per line,
// blank lines skipped). Every item must validate; errors name the line.
func ParseGoods(r io.Reader) ([]goods.Goods, error) {
	br := bufio.NewReader(r)
	all, err := io.ReadAll(br)
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(all)
	var items []goods.Goods
	if bytes.HasPrefix(trimmed, []byte("[")) {
		if err := json.Unmarshal(trimmed, &items); err != nil {
			return nil, fmt.Errorf("json array: %w", err)
		}
		for i := range items {
			if err := items[i].Validate(); err != nil {
				return nil, fmt.Errorf("item %d: %w", i+1, err)
			}
		}
		return items, nil
	}
	for n, line := range bytes.Split(all, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var g goods.Goods
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&g); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if err := g.Validate(); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		items = append(items, g)
	}
	return items, nil
}

// apply upserts items; with replace, gids not among them are deleted.
func (c *catalog) apply(items []goods.Goods, replace bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	for _, g := range items {
		seen[g.GID] = true
		e := c.Entries[g.GID]
		if e != nil && !e.Deleted && reflect.DeepEqual(e.Goods, g) {
			continue
		}
		c.Next++
		c.Entries[g.GID] = &catalogEntry{Ver: c.Next, Goods: g}
	}
	if replace {
		gids := make([]string, 0, len(c.Entries))
		for gid := range c.Entries {
			gids = append(gids, gid)
		}
		sort.Strings(gids)
		for _, gid := range gids {
			e := c.Entries[gid]
			if seen[gid] || e.Deleted {
				continue
			}
			c.Next++
			c.Entries[gid] = &catalogEntry{Ver: c.Next, Goods: goods.Goods{GID: gid}, Deleted: true}
		}
	}
	return c.save()
}

func (c *catalog) save() error {
	if c.path == "" {
		return nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return cloudkit.ReplaceFile(c.path, b, "catalog")
}

func (c *catalog) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.Entries {
		if !e.Deleted {
			n++
		}
	}
	return n
}

type feedPage struct {
	Cursor  string        `json:"cursor"`
	Items   []goods.Goods `json:"items"`
	Deleted []string      `json:"deleted"`
	More    bool          `json:"more"`
}

func (c *catalog) page(since uint64, limit int) feedPage {
	c.mu.Lock()
	defer c.mu.Unlock()
	var after []*catalogEntry
	for _, e := range c.Entries {
		if e.Ver > since {
			after = append(after, e)
		}
	}
	sort.Slice(after, func(i, j int) bool { return after[i].Ver < after[j].Ver })
	p := feedPage{Cursor: strconv.FormatUint(since, 10), Items: []goods.Goods{}, Deleted: []string{}}
	if limit <= 0 {
		return p
	}
	if len(after) > limit {
		p.More = true
		after = after[:limit]
	}
	for _, e := range after {
		if e.Deleted {
			p.Deleted = append(p.Deleted, e.Goods.GID)
		} else {
			p.Items = append(p.Items, e.Goods)
		}
		p.Cursor = strconv.FormatUint(e.Ver, 10)
	}
	return p
}

func (s *Server) getCatalog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var since uint64
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			cloudkit.WriteErr(w, http.StatusBadRequest, "bad_cursor", "since: "+err.Error())
			return
		}
		since = n
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			cloudkit.WriteErr(w, http.StatusBadRequest, "bad_limit", "limit must be a number ≥ 0")
			return
		}
		limit = min(n, 1000)
	}
	cloudkit.WriteJSON(w, http.StatusOK, s.cat.page(since, limit))
}

// putCatalog (PUT: replace, POST: upsert) is an unsigned admin endpoint for
// tests and demos; the body is a JSON array or JSON Lines of goods.
func (s *Server) putCatalog(w http.ResponseWriter, r *http.Request) {
	items, err := ParseGoods(io.LimitReader(r.Body, cloudkit.MaxJSONBody))
	if err != nil {
		cloudkit.WriteErr(w, http.StatusBadRequest, "bad_catalog", err.Error())
		return
	}
	if err := s.cat.apply(items, r.Method == http.MethodPut); err != nil {
		cloudkit.WriteErr(w, http.StatusInternalServerError, "storage", err.Error())
		return
	}
	cloudkit.WriteJSON(w, http.StatusOK, map[string]int{"items": s.cat.size()})
}
