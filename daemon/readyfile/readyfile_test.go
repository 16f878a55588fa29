package readyfile

import (
	"os"
	"testing"
)

func TestWriteReadResolveRemove(t *testing.T) {
	dir := t.TempDir()
	http := func(f File) string { return f.HTTP }
	if got := Resolve(dir, "127.0.0.1:0", http); got != "127.0.0.1:0" {
		t.Fatalf("no file: %q", got)
	}
	want := File{PID: os.Getpid(), Devices: "127.0.0.1:40001", HTTP: "127.0.0.1:40002", Discovery: []string{"127.0.0.1:40003"}}
	if err := Write(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := Read(dir)
	if err != nil || got.PID != want.PID || got.HTTP != want.HTTP || len(got.Discovery) != 1 {
		t.Fatalf("read %+v %v", got, err)
	}
	if got := Resolve(dir, "127.0.0.1:0", http); got != "127.0.0.1:40002" {
		t.Fatalf("port 0 resolved to %q", got)
	}
	if got := Resolve(dir, ":8680", http); got != ":8680" {
		t.Fatalf("a fixed port changed to %q", got)
	}
	if got := Resolve(dir, "127.0.0.1:0", func(f File) string { return f.MQTT }); got != "127.0.0.1:0" {
		t.Fatalf("a listener that is off resolved to %q", got)
	}
	if err := Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := Remove(dir); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if _, err := Read(dir); !os.IsNotExist(err) {
		t.Fatalf("after remove: %v", err)
	}
}
