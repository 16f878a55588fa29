package daemon

import (
	"fmt"
	"net/http"
	"time"

	"github.com/storebox/storebox/daemon/backup"
)

// serveBackup is GET /api/v1/backup (admin): the store's backup archive
// (daemon/backup), made from one read transaction while the daemon goes on
// selling. An error after the first byte aborts the connection, so the
// client sees a cut archive (no manifest), never a short one that looks
// whole.
func (d *Daemon) serveBackup(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fmt.Sprintf("storebox-%s-%s.tar.gz", d.cfg.StoreID, time.Now().UTC().Format("20060102T150405Z"))))
	w.Header().Set("Cache-Control", "no-store")
	start := time.Now()
	m, err := backup.Write(w, backup.Source{DB: d.store.DB(), DataDir: d.cfg.DataDir, ConfigPath: d.cfg.Path, StoreID: d.cfg.StoreID, Version: d.version})
	if err != nil {
		d.log.Error("backup failed", "err", err)
		panic(http.ErrAbortHandler)
	}
	d.log.Info("backup made", "bytes", m.Size(), "files", len(m.Files), "schema", m.Schema, "took", time.Since(start).Round(time.Millisecond))
}
