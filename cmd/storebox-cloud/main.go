// Command storebox-cloud is the reference cloud of docs/UPSTREAM.md (§9) for tests
// and demos: signed ledger events, a catalog feed, store credit, a small
// fleet console (health per store, signed desired configuration, the fleet
// page at /), and fault injection. The first line on stdout is the address
// listened on, e.g. "127.0.0.1:41234" (useful with --listen 127.0.0.1:0).
// --help explains how to point a store at it.
//
// See package sync/cloudref.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/storebox/storebox/sync/cloudref"
	"github.com/storebox/storebox/sync/cloudref/fleetconsole"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); errors.Is(err, flag.ErrHelp) {
		return
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "storebox-cloud:", err)
		os.Exit(2)
	}
}

const usageHead = `storebox-cloud — the reference cloud for storebox (docs/UPSTREAM.md §2–7, §9), for tests and demos.

Point a store at it in the store's storebox.toml (the secret is this cloud's --secret,
or the one given for that store with --store-secret; store_id is the store's name here):

    store_id = "store-212"
    [upstream]
    url = "http://<this host>:8700"     # the address printed on the first line of stdout
    secret = "s3cret"

then restart the store (systemctl restart storebox). The store sends its ledger events
and health snapshots here and polls its desired configuration. If the stores set another
[fleet] health_interval than the default 60s, pass the same --health-interval here: a store
silent for 3 intervals shows as offline. The fleet page and /stats need no login (the
default --listen is loopback); the admin endpoints need --admin-token.

Endpoints:
    /v1/...                                signed store API (events, catalog, credits, health, config)
    GET  /                                 the fleet page: every store, offline and alerting first
    GET  /fleet.json[?since=REV]           the same as JSON (stores changed after REV)
    GET  /stores/<s>/health                a store's whole latest health snapshot
    GET  /stats[?format=json]              counters
    PUT  /v1/admin/stores/<s>/config       desired configuration {"version": N, "config": {...}}
                                           (Authorization: Bearer <--admin-token>); only doors,
                                           devices.admission|approve|reject and orders.payment_ttl;
                                           the version must increase (above the store's too);
                                           the reply says what it replaces and removes
    PATCH /v1/admin/stores/<s>/config      {"doors": {"add": [{door}], "remove": ["id"]}}: one door
                                           in or out, stored as the whole next version
    PUT  /v1/admin/config-fault            {"mode": "hang"|...|""} switches --config-fault at run time
    PUT  /v1/admin/stores/<s>/config-fault {"mode": ...} the same for one store, over the cloud's
    PUT|POST /admin/catalog                goods for the catalog feed (replace|upsert), unsigned

Examples:
    storebox-cloud --secret s3cret --data ./cloud --admin-token "$(openssl rand -hex 16)"
    storebox-cloud --secret s3cret --catalog goods.jsonl --credit member-1=5000
    storebox-cloud --secret s3cret --fail-rate 0.3 --down-for 10s --reject-type order.cancelled
    storebox-cloud --secret s3cret --config-fault forged

Flags:
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("storebox-cloud", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
	}
	var (
		opt        cloudref.Options
		listen     = fs.String("listen", "127.0.0.1:8700", "address to listen on (port 0 picks one; the address is printed)")
		creditFile = fs.String("credits", "", "JSON file {\"account_token\": balance, ...}")
		rejects    = fs.String("reject-type", "", "comma-separated event types whose batches get 400")
		hang       = fs.Bool("hang", false, "accept every /v1 request and never answer (same as --hang-rate 1)")
		verbose    = fs.Bool("v", false, "log requests refused")
	)
	opt.StoreSecrets = map[string]string{}
	opt.Credits = map[string]int64{}
	fs.StringVar(&opt.DataDir, "data", "", "directory for the event log, catalog, credit and fleet state (default: memory only; desired versions below what a store says it runs are refused either way)")
	fs.StringVar(&opt.Secret, "secret", "", "HMAC secret for every store (or use --store-secret)")
	fs.Func("store-secret", "STORE=SECRET (repeatable)", func(v string) error {
		k, s, ok := strings.Cut(v, "=")
		if !ok || k == "" || s == "" {
			return errors.New("want STORE=SECRET")
		}
		opt.StoreSecrets[k] = s
		return nil
	})
	fs.StringVar(&opt.CatalogFile, "catalog", "", "goods for the catalog feed: JSON Lines or a JSON array")
	fs.Func("credit", "ACCOUNT=AMOUNT in minor units (repeatable)", func(v string) error {
		k, s, ok := strings.Cut(v, "=")
		n, err := strconv.ParseInt(s, 10, 64)
		if !ok || k == "" || err != nil || n < 0 {
			return errors.New("want ACCOUNT=AMOUNT with a non-negative integer amount")
		}
		opt.Credits[k] = n
		return nil
	})
	fs.Float64Var(&opt.FailRate, "fail-rate", 0, "fraction of /v1 requests answered 503")
	fs.Float64Var(&opt.HangRate, "hang-rate", 0, "fraction of /v1 requests accepted and never answered")
	fs.Float64Var(&opt.ThrottleRate, "throttle-rate", 0, "fraction of /v1 requests answered 429 with Retry-After: 1")
	fs.Float64Var(&opt.LoseAckRate, "lose-ack-rate", 0, "fraction of event batches stored and then answered 503")
	fs.DurationVar(&opt.Latency, "latency", 0, "delay added to every /v1 request")
	fs.DurationVar(&opt.DownFor, "down-for", 0, "close every connection at once for this long after start")
	fs.BoolVar(&opt.PartialAck, "partial-ack", false, "store only the first half of each batch and ack through it")
	fs.DurationVar(&opt.ClockOffset, "clock-offset", 0, "move the cloud's clock (Date header, signature checks) by this much, e.g. 1h")
	fs.Uint64Var(&opt.Seed, "seed", 0, "seed for the fault dice (0 = random)")
	fs.StringVar(&opt.AdminToken, "admin-token", "",
		"bearer token of the /v1/admin endpoints (or $STOREBOX_CLOUD_ADMIN_TOKEN; none turns them off)")
	fs.DurationVar(&opt.HealthInterval, "health-interval", fleetconsole.DefaultHealthInterval,
		"the stores' fleet.health_interval; a store silent for 3 intervals shows as offline")
	fs.StringVar(&opt.ConfigFault, "config-fault", "", "serve desired configuration badly: "+strings.Join(fleetconsole.ConfigFaults, "|"))
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if opt.Secret == "" && len(opt.StoreSecrets) == 0 {
		return errors.New("no secret: pass --secret or --store-secret STORE=SECRET")
	}
	if opt.AdminToken == "" {
		opt.AdminToken = os.Getenv("STOREBOX_CLOUD_ADMIN_TOKEN")
	}
	if err := fleetconsole.CheckConfigFault(opt.ConfigFault); err != nil {
		return err
	}
	if opt.HealthInterval <= 0 {
		return errors.New("--health-interval must be above 0")
	}
	for _, r := range []float64{opt.FailRate, opt.HangRate, opt.ThrottleRate, opt.LoseAckRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("rates must be between 0 and 1, got %v", r)
		}
	}
	if *hang {
		opt.HangRate = 1
	}
	if *rejects != "" {
		for _, t := range strings.Split(*rejects, ",") {
			if t = strings.TrimSpace(t); t != "" {
				opt.RejectTypes = append(opt.RejectTypes, t)
			}
		}
	}
	if *creditFile != "" {
		b, err := os.ReadFile(*creditFile)
		if err != nil {
			return fmt.Errorf("credits: %w", err)
		}
		var m map[string]int64
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("credits %s: %w", *creditFile, err)
		}
		for k, v := range m {
			if _, set := opt.Credits[k]; !set {
				opt.Credits[k] = v
			}
		}
	}
	level := slog.LevelError
	if *verbose {
		level = slog.LevelInfo
	}
	opt.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	srv, err := cloudref.New(opt)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintln(stdout, ln.Addr().String())
	if f, ok := stdout.(*os.File); ok {
		f.Sync()
	}
	return srv.Serve(ctx, ln)
}
