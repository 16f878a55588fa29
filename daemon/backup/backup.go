// Package backup makes and restores a store's backup: one archive holding
// a consistent copy of the store file (one bbolt read transaction, written
// while the daemon keeps selling), the data directory's other state (admin
// token, remote configuration, run record) and the configuration file,
// with a manifest of SHA-256 checksums last.
//
// The archive is a gzip-compressed tar: the store file first, then the
// other files, then MANIFEST.json. Restore verifies everything (every
// file's size and checksum, the store file's consistency check and schema
// version) in a staging directory beside the data directory before it
// touches the data directory, then moves the old directory aside and
// marks the restored store so its ledger follows the cloud's numbering
// (UPSTREAM.md §3).
package backup

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/storebox/storebox/daemon/fleet"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/webauth"
)

// Format names this archive layout in the manifest.
const Format = "storebox-backup/1"

// Names inside the archive.
const (
	ManifestName = "MANIFEST.json"
	StoreName    = store.FileName
	ConfigName   = "storebox.toml" // the configuration file, whatever its name on the box
)

// RunRecordFile is the CLI's run record (cmd/storebox/internal/runrecord
// checks it is the same name).
const RunRecordFile = "run.json"

// StateFiles are the data directory's files besides the store that a
// restored box needs: the admin token (so links and scripts keep
// working), the sessions signed out before the backup (so those cookies
// stay dead with the token), the applied remote configuration (so it
// starts on it offline), the run record. ready.json belongs to a running
// process and is left out (test/boxswap checks a running daemon's
// directory holds nothing else).
var StateFiles = []string{webauth.AdminTokenFile, webauth.SignedOutFile, fleet.StateFile, RunRecordFile}

// Manifest describes an archive; it is its last entry.
type Manifest struct {
	Format    string    `json:"format"`
	StoreID   string    `json:"store_id"`
	CreatedAt time.Time `json:"created_at"`
	Version   string    `json:"storebox_version"`
	Schema    uint32    `json:"schema"`
	Files     []File    `json:"files"`
}

// File is one archived file.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Size is the archived files' total size, uncompressed.
func (m Manifest) Size() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// Source is what a backup is made of.
type Source struct {
	DB         *bbolt.DB // the open store file (the daemon's, or one opened read-only)
	DataDir    string
	ConfigPath string // "" when there is no file
	StoreID    string
	Version    string
	Now        func() time.Time
}

// Write streams an archive of src to w and returns its manifest.
func Write(w io.Writer, src Source) (Manifest, error) {
	now := time.Now
	if src.Now != nil {
		now = src.Now
	}
	m := Manifest{Format: Format, StoreID: src.StoreID, CreatedAt: now().UTC(), Version: src.Version}
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	add := func(name string, size int64, write func(io.Writer) error) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Size: size, Mode: 0o600, ModTime: m.CreatedAt, Typeflag: tar.TypeReg}); err != nil {
			return fmt.Errorf("backup %s: %w", name, err)
		}
		h := sha256.New()
		cw := &countWriter{w: io.MultiWriter(tw, h)}
		if err := write(cw); err != nil {
			return fmt.Errorf("backup %s: %w", name, err)
		}
		if cw.n != size {
			return fmt.Errorf("backup %s: wrote %d bytes, expected %d", name, cw.n, size)
		}
		m.Files = append(m.Files, File{Name: name, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))})
		return nil
	}
	// One read transaction: a consistent copy while writers go on.
	err := src.DB.View(func(tx *bbolt.Tx) error {
		var err error
		if m.Schema, err = store.FileSchema(tx); err != nil {
			return err
		}
		return add(StoreName, tx.Size(), func(w io.Writer) error { _, err := tx.WriteTo(w); return err })
	})
	if err != nil {
		return m, err
	}
	files := map[string]string{}
	for _, name := range StateFiles {
		files[name] = filepath.Join(src.DataDir, name)
	}
	if src.ConfigPath != "" {
		files[ConfigName] = src.ConfigPath
	}
	for _, name := range append(slices.Clone(StateFiles), ConfigName) {
		path, ok := files[name]
		if !ok {
			continue
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return m, fmt.Errorf("backup %s: %w", path, err)
		}
		if err := add(name, int64(len(b)), func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
			return m, err
		}
	}
	mb, _ := json.MarshalIndent(m, "", "  ")
	if err := tw.WriteHeader(&tar.Header{Name: ManifestName, Size: int64(len(mb)), Mode: 0o600, ModTime: m.CreatedAt, Typeflag: tar.TypeReg}); err != nil {
		return m, fmt.Errorf("backup manifest: %w", err)
	}
	if _, err := tw.Write(mb); err != nil {
		return m, fmt.Errorf("backup manifest: %w", err)
	}
	if err := tw.Close(); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	if err := zw.Close(); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	return m, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// allowed reports whether name may appear in an archive: flat names this
// package writes, nothing that could land outside the staging directory.
func allowed(name string) bool {
	return name == StoreName || name == ConfigName || name == ManifestName || slices.Contains(StateFiles, name)
}

// Read reads an archive from r, verifying every file's size and checksum
// against the manifest, and hands each file to keep (nil: read and
// verify only). keep's writer gets the bytes as they arrive; a file that
// then fails its checksum makes Read fail. The whole input is consumed.
func Read(r io.Reader, keep func(name string) (io.WriteCloser, error)) (Manifest, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return Manifest{}, fmt.Errorf("not a storebox backup (gzip): %w", err)
	}
	tr := tar.NewReader(zr)
	got := map[string]File{}
	var m Manifest
	haveManifest := false
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return m, fmt.Errorf("read backup: %w (the file is cut short or damaged)", err)
		}
		if haveManifest {
			return m, fmt.Errorf("read backup: %q after the manifest", hdr.Name)
		}
		if hdr.Typeflag != tar.TypeReg || !allowed(hdr.Name) {
			return m, fmt.Errorf("read backup: unexpected entry %q", hdr.Name)
		}
		if _, dup := got[hdr.Name]; dup {
			return m, fmt.Errorf("read backup: %q twice", hdr.Name)
		}
		if hdr.Name == ManifestName {
			b, err := io.ReadAll(io.LimitReader(tr, 1<<20))
			if err != nil {
				return m, fmt.Errorf("read backup manifest: %w", err)
			}
			if err := json.Unmarshal(b, &m); err != nil {
				return m, fmt.Errorf("read backup manifest: %w", err)
			}
			haveManifest = true
			continue
		}
		var dst io.Writer = io.Discard
		var wc io.WriteCloser
		if keep != nil {
			if wc, err = keep(hdr.Name); err != nil {
				return m, err
			}
			dst = wc
		}
		var h hash.Hash = sha256.New()
		n, err := io.Copy(io.MultiWriter(dst, h), tr)
		if wc != nil {
			if cerr := wc.Close(); err == nil {
				err = cerr
			}
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) {
			return m, fmt.Errorf("read backup %s: %w (the file is cut short or damaged)", hdr.Name, err)
		}
		if err != nil {
			return m, fmt.Errorf("read backup %s: %w", hdr.Name, err)
		}
		got[hdr.Name] = File{Name: hdr.Name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	}
	if _, err := io.Copy(io.Discard, zr); err != nil { // the gzip trailer: its CRC is checked at EOF
		return m, fmt.Errorf("read backup: %w (the file is cut short or damaged)", err)
	}
	if !haveManifest {
		return m, errors.New("read backup: no manifest (the file is cut short)")
	}
	if m.Format != Format {
		return m, fmt.Errorf("read backup: format %q, this build reads %q", m.Format, Format)
	}
	for _, f := range m.Files {
		g, ok := got[f.Name]
		switch {
		case !ok:
			return m, fmt.Errorf("read backup: %s is in the manifest but not in the archive", f.Name)
		case g.Size != f.Size || g.SHA256 != f.SHA256:
			return m, fmt.Errorf("read backup: %s does not match its checksum (%d bytes sha256 %s, manifest says %d bytes %s)", f.Name, g.Size, g.SHA256, f.Size, f.SHA256)
		}
		delete(got, f.Name)
	}
	for name := range got {
		return m, fmt.Errorf("read backup: %s is not in the manifest", name)
	}
	if !slices.ContainsFunc(m.Files, func(f File) bool { return f.Name == StoreName }) {
		return m, fmt.Errorf("read backup: no %s in it", StoreName)
	}
	return m, nil
}

// WriteStopped is Write for a data directory no daemon has open: the
// store file is opened read-only (a running daemon's lock makes it fail
// with store.ErrLocked).
func WriteStopped(w io.Writer, src Source) (Manifest, error) {
	path := filepath.Join(src.DataDir, StoreName)
	if _, err := os.Stat(path); err != nil {
		return Manifest{}, fmt.Errorf("backup: no store in %s: %w", src.DataDir, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 300 * time.Millisecond})
	if errors.Is(err, berrors.ErrTimeout) {
		return Manifest{}, fmt.Errorf("backup %s: %w", path, store.ErrLocked)
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("backup: open %s: %w", path, err)
	}
	defer db.Close()
	src.DB = db
	return Write(w, src)
}
