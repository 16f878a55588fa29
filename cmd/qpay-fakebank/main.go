// Command qpay-fakebank runs sync/qpay/fakebank, an in-memory stand-in for
// the SinoPac QPay API, for demos and black-box tests of storebox.
//
//	qpay-fakebank -listen 127.0.0.1:8689
//
// Point storebox at it with
//
//	[payments]
//	provider = "qpay"
//	[payments.qpay]
//	base_url = "http://127.0.0.1:8689/api"
//	shop_no = "BA0026_001"   # and a1..b2 as printed at start
//
// Settle an order with `curl -X POST 'http://127.0.0.1:8689/_fake/pay?order=N'`
// (or open the order's PayURL in a browser); see the fakebank package for
// /_fake/fail, /_fake/fault and /_fake/orders.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/storebox/storebox/sync/qpay/fakebank"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "qpay-fakebank:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:8689", "address to listen on")
	shop := flag.String("shop", "BA0026_001", "shop number (ShopNo)")
	// Defaults: the keys of the bank's published sample, not secrets.
	a1 := flag.String("a1", "4D9709D699CA40EE", "key A1 (16 hex digits)")
	a2 := flag.String("a2", "5A4FEF83140C4E9E", "key A2")
	b1 := flag.String("b1", "BC74301945134CB4", "key B1")
	b2 := flag.String("b2", "961F67F8FCA44AB9", "key B2")
	fault := flag.String("fault", "none", "initial fault: none, badsign, amount, innerfail, ordermismatch, 500, hang")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	bank, err := fakebank.New(*shop, *a1, *a2, *b1, *b2)
	if err != nil {
		return err
	}
	f, err := fakebank.ParseFault(*fault)
	if err != nil {
		return err
	}
	bank.SetFault(f)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *listen, err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			log.Info("request", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery)
			bank.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Info("qpay fake bank listening", "base_url", "http://"+ln.Addr().String()+"/api", "shop_no", *shop,
		"a1", *a1, "a2", *a2, "b1", *b1, "b2", *b2, "fault", *fault)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	bank.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
