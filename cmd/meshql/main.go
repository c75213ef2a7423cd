// Command meshql runs the plugin's PromQL dialect against ClickHouse from a
// terminal or a script, and prints answers as Prometheus' HTTP API does.
//
//	meshql query --url http://HOST:PORT --database otel [--user U --password P] \
//	    (--time T | --start T --end T --step D) 'EXPR'
//	meshql explain [--strategy portable] [--time T | --start T --end T --step D] 'EXPR'
//
// Times are Unix seconds or RFC 3339; durations are Go or PromQL durations
// (15s, 1m). A bad query prints {"status":"error","errorType":"bad_data",…}
// and exits 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/forma3d/meshmetrics/pkg/engine"
	"github.com/forma3d/meshmetrics/pkg/plan"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  meshql query --url http://HOST:PORT [--database otel] [--user U --password P] (--time T | --start T --end T --step D) 'EXPR'
  meshql explain [--strategy portable|native] [--time T | --start T --end T --step D] 'EXPR'`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	switch args[0] {
	case "query":
		return query(args[1:], stdout, stderr)
	case "explain":
		return explain(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "unknown command %q\n%s\n", args[0], usage)
	return 2
}

// common are the flags both commands take.
type common struct {
	fs                     *flag.FlagSet
	database, strategy     string
	at, start, end, stepIn string
	lookback               time.Duration
}

func newCommon(name string, stderr io.Writer) *common {
	c := &common{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	c.fs.SetOutput(stderr)
	c.fs.StringVar(&c.database, "database", "otel", "database the exporter writes to")
	c.fs.StringVar(&c.strategy, "strategy", engine.StrategyAuto, "SQL strategy: auto (native on ClickHouse 25.9+; portable for explain), portable or native")
	c.fs.StringVar(&c.at, "time", "", "evaluation time of an instant query (Unix seconds or RFC 3339)")
	c.fs.StringVar(&c.start, "start", "", "start of a range query")
	c.fs.StringVar(&c.end, "end", "", "end of a range query")
	c.fs.StringVar(&c.stepIn, "step", "", "step of a range query (e.g. 15s)")
	c.fs.DurationVar(&c.lookback, "lookback", 5*time.Minute, "lookback delta of instant selectors")
	return c
}

// parse reads the flags and the one expression argument.
func (c *common) parse(args []string) (string, error) {
	if err := c.fs.Parse(args); err != nil {
		return "", err
	}
	if c.fs.NArg() != 1 {
		return "", fmt.Errorf("expected exactly one expression argument, got %d", c.fs.NArg())
	}
	return c.fs.Arg(0), nil
}

// grid is the evaluation grid the flags ask for; instant says which kind.
func (c *common) grid(now time.Time) (g plan.Grid, instant bool, err error) {
	if c.start == "" && c.end == "" && c.stepIn == "" {
		at := now
		if c.at != "" {
			if at, err = parseTime("--time", c.at); err != nil {
				return g, false, err
			}
		}
		return plan.NewInstantGrid(at), true, nil
	}
	if c.at != "" {
		return g, false, errors.New("--time is for instant queries; give either --time or --start, --end and --step")
	}
	if c.start == "" || c.end == "" || c.stepIn == "" {
		return g, false, errors.New("a range query needs --start, --end and --step")
	}
	start, err := parseTime("--start", c.start)
	if err != nil {
		return g, false, err
	}
	end, err := parseTime("--end", c.end)
	if err != nil {
		return g, false, err
	}
	step, err := parseDuration("--step", c.stepIn)
	if err != nil {
		return g, false, err
	}
	g, err = plan.NewRangeGrid(start, end, step, 11000)
	return g, false, err
}

func (c *common) config() engine.Config {
	return engine.Config{Database: c.database, Lookback: c.lookback, Strategy: c.strategy}
}

func explain(args []string, stdout, stderr io.Writer) int {
	c := newCommon("explain", stderr)
	expr, err := c.parse(args)
	if err != nil {
		return usageError(stderr, err)
	}
	g, _, err := c.grid(time.Now())
	if err != nil {
		return usageError(stderr, err)
	}
	sql, err := engine.ExplainOffline(expr, g, c.config())
	if err != nil {
		return apiError(stdout, err)
	}
	fmt.Fprintln(stdout, sql)
	return 0
}

func query(args []string, stdout, stderr io.Writer) int {
	c := newCommon("query", stderr)
	var url, user, password string
	var timeout time.Duration
	c.fs.StringVar(&url, "url", "", "ClickHouse URL: http://HOST:PORT, https://…, or clickhouse://HOST:9000 for the native protocol")
	c.fs.StringVar(&user, "user", "default", "ClickHouse user")
	c.fs.StringVar(&password, "password", "", "ClickHouse password (or MESHQL_PASSWORD)")
	c.fs.DurationVar(&timeout, "timeout", time.Minute, "query timeout")
	expr, err := c.parse(args)
	if err != nil {
		return usageError(stderr, err)
	}
	if url == "" {
		return usageError(stderr, errors.New("--url is required"))
	}
	if password == "" {
		password = os.Getenv("MESHQL_PASSWORD")
	}
	g, instant, err := c.grid(time.Now())
	if err != nil {
		return usageError(stderr, err)
	}
	conn, err := connect(url, c.database, user, password, timeout)
	if err != nil {
		return usageError(stderr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	e := engine.New(conn, c.config())
	var res *engine.Result
	if instant {
		res, err = e.InstantQuery(ctx, expr, g.Time(0))
	} else {
		res, err = e.RangeQuery(ctx, expr, g.Time(0), g.Time(g.N-1), time.Duration(g.StepMs)*time.Millisecond)
	}
	if err != nil {
		return apiError(stdout, err)
	}
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(apiResponse(res)); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func usageError(stderr io.Writer, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	fmt.Fprintf(stderr, "meshql: %v\n", err)
	return 2
}

// apiError prints a failed query as Prometheus' API reports it.
func apiError(stdout io.Writer, err error) int {
	_ = json.NewEncoder(stdout).Encode(map[string]string{"status": "error", "errorType": "bad_data", "error": err.Error()})
	return 1
}
