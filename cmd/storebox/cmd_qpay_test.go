package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/storebox/storebox/sync/qpay/fakebank"
)

func TestQPayCommand(t *testing.T) {
	const shop, a1, a2, b1, b2 = "BA0026_001", "4D9709D699CA40EE", "5A4FEF83140C4E9E", "BC74301945134CB4", "961F67F8FCA44AB9"
	bank, err := fakebank.New(shop, a1, a2, b1, b2)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(bank)
	defer srv.Close()
	dir := t.TempDir()
	write := func(a1 string) string {
		p := filepath.Join(dir, a1+".toml")
		cfg := fmt.Sprintf("data_dir = %q\n[payments]\nprovider = \"qpay\"\n[payments.qpay]\nbase_url = %q\nshop_no = %q\na1 = %q\na2 = %q\nb1 = %q\nb2 = %q\n",
			dir, srv.URL+"/api", shop, a1, a2, b1, b2)
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Built directly rather than through rootCommand, so the test does not
	// depend on the command's registration in commands.go.
	run := func(args ...string) (string, error) {
		g := &globals{}
		root := qpayCommand(g)
		root.PersistentFlags().StringVar(&g.configPath, "config", "", "")
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(args)
		err := root.ExecuteContext(context.Background())
		return out.String(), err
	}

	good := write(a1)
	if out, err := run("check", "--config", good); err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("check: %q, %v", out, err)
	}
	if out, err := run("query", "S1-1", "--config", good); err != nil || !strings.Contains(out, `"Found": false`) {
		t.Fatalf("query: %q, %v", out, err)
	}
	bad := write("0000000000000000")
	if _, err := run("check", "--config", bad); err == nil || !strings.Contains(err.Error(), "a1..b2") {
		t.Fatalf("check with wrong keys: %v", err)
	}
}
