// Package fleetmsg holds the fleet contract of UPSTREAM.md §7: the health snapshot a
// store PUTs to the cloud, its alerts, and the desired-configuration document
// the cloud serves, with the check both sides run on that document before
// they accept it. It encodes, decodes and checks only.
package fleetmsg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Alert kinds (UPSTREAM.md §7).
const (
	AlertDevicePending = "device_pending"
	// AlertPendingFull: as many devices wait for approval as the store
	// records; new devices are refused until some are approved or rejected.
	AlertPendingFull   = "devices_pending_full"
	AlertScaleFault    = "scale_fault"
	AlertPrinterFault  = "printer_fault" // subject: the printer id
	AlertDoorOffline   = "door_offline"
	AlertQueueStale    = "queue_stale"
	AlertDeadLetters   = "dead_letters"
	AlertDiskLow       = "disk_low"
	AlertConfigRefused = "config_refused"
	AlertClockSkew     = "clock_skew"     // subject: the offset in whole seconds, e.g. "-3600"
	AlertLedgerRebased = "ledger_rebased" // subject: the first seq after the rebase
)

// SubjectUnreadableDocument is the subject of a config_refused alert for a
// document whose version could not be read (not JSON, too large).
const SubjectUnreadableDocument = "document"

// Config sources reported in Health.Config.Source.
const (
	SourceFile   = "file"
	SourceRemote = "remote"
)

// Health is the body of PUT /v1/stores/<s>/health.
type Health struct {
	At      time.Time               `json:"at"`
	Store   string                  `json:"store"`
	Version string                  `json:"version"`
	UptimeS int64                   `json:"uptime_s"`
	Ready   bool                    `json:"ready"`
	Config  ConfigStatus            `json:"config"`
	Devices map[string]DeviceCounts `json:"devices"`
	Scales  []ScaleHealth           `json:"scales"`
	Doors   []DoorHealth            `json:"doors"`
	// Printers is omitted by stores without [[printers]] (and by older
	// stores); a cloud reads it as none.
	Printers []PrinterHealth `json:"printers,omitempty"`
	Queue    QueueHealth     `json:"queue"`
	Disk     DiskHealth      `json:"disk"`
	Alerts   []Alert         `json:"alerts"`
}

// ConfigStatus is the applied configuration and the last refusal.
type ConfigStatus struct {
	Version   Version    `json:"version"`
	Source    string     `json:"source"`
	AppliedAt *time.Time `json:"applied_at,omitempty"`
	Error     string     `json:"error,omitempty"`
}

// DeviceCounts are the sessions of one device kind.
type DeviceCounts struct {
	Online   int `json:"online"`
	Approved int `json:"approved"`
	Pending  int `json:"pending"`
}

// ScaleHealth is one serial scale.
type ScaleHealth struct {
	ID            string     `json:"id"`
	State         string     `json:"state"`
	Error         string     `json:"error,omitempty"`
	LastReadingAt *time.Time `json:"last_reading_at,omitempty"`
}

// PrinterHealth is one receipt printer (PROTOCOL.md §7.2).
type PrinterHealth struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Queued int    `json:"queued"`
	Error  string `json:"error,omitempty"`
}

// DoorHealth is one door.
type DoorHealth struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Online bool   `json:"online"`
}

// QueueHealth is the upstream outbox.
type QueueHealth struct {
	Depth       int64      `json:"depth"`
	OldestAgeS  int64      `json:"oldest_age_s"`
	DeadLetters int64      `json:"dead_letters"`
	LastSyncAt  *time.Time `json:"last_sync_at,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
}

// DiskHealth is the data directory's file system.
type DiskHealth struct {
	FreeBytes uint64  `json:"free_bytes"`
	FreeRatio float64 `json:"free_ratio"`
}

// Alert is one condition an operator acts on; Subject names what it is
// about (equipId, scale id, door id, refused document version).
type Alert struct {
	Kind    string    `json:"kind"`
	Subject string    `json:"subject"`
	Since   time.Time `json:"since"`
	Message string    `json:"message"`
}

// Version is a configuration version. It is a JSON number; a string of
// digits and null are read too, so a sender that quotes it is not refused.
type Version uint64

// UnmarshalJSON accepts 3, "3", "" and null.
func (v *Version) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*v = 0
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			*v = 0
			return nil
		}
		b = []byte(s)
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("version %s is not a whole number ≥ 0", b)
	}
	*v = Version(n)
	return nil
}

// ETag is the entity tag of a desired configuration of version v.
func ETag(v Version) string { return `"` + strconv.FormatUint(uint64(v), 10) + `"` }

// DecodeHealth parses a health snapshot.
func DecodeHealth(b []byte) (Health, error) {
	var h Health
	if err := json.Unmarshal(b, &h); err != nil {
		return Health{}, fmt.Errorf("health snapshot: %w", err)
	}
	return h, nil
}
