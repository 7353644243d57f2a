// Command judgesim simulates the canary's judge itself, with no cluster: stages of a canary
// whose true error rates are known, read as Shepherd reads them (a 5-minute stage, a look every
// 5 s over the stage so far, error_threshold 5%, min_requests 20), judged on the same draws by
// today's judge (StageJudge: anytime-valid tests, against the stable track and without it) and
// by the rule it replaced (a 99% Wilson interval at every look, the point estimate at the
// end). It prints, per row, how often each aborted and the median time to abort. A second
// table reads the same situations through Prometheus' scrapes (every 15, 30 and 60 s): the
// judge before on increase() over the stage so far, extrapolated to its edges, and the judge
// now on exact counts, the difference of the counters' last scrapes (scrape.go).
//
//	go run ./bench/judgesim            # 10,000 stages per row
//	go run ./bench/judgesim -n 2000    # faster
package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shepherd-deploy/shepherd/analysis"
)

// Row is one simulated situation: the tracks' true error rates and the canary's traffic (the
// stable track gets the rest of a 10% split: nine times as much).
type Row struct {
	Name                string
	Canary, Stable, RPS float64
	// Worse: aborting is right (the canary is worse than the threshold or than 1.5× the
	// stable); otherwise any abort is a false one.
	Worse bool
}

// Rows are the table, the outages and the regressions.
var Rows = []Row{
	{"healthy at 4.0%, 2 req/s", 0.04, 0.04, 2, false},
	{"healthy at 4.5%, 2 req/s", 0.045, 0.045, 2, false},
	{"at the threshold, 5.0%, 2 req/s", 0.05, 0.05, 2, false},
	{"at the threshold, 5.0%, 10 req/s", 0.05, 0.05, 10, false},
	{"both tracks at 8% (an outage), 10 req/s", 0.08, 0.08, 10, false},
	{"canary 2× stable, both under (4% vs 2%), 10 req/s", 0.04, 0.02, 10, true},
	{"2× the threshold (10%), 10 req/s", 0.10, 0.01, 10, true},
	{"3× the threshold (15%), 10 req/s", 0.15, 0.01, 10, true},
	{"6× the threshold (30%), 10 req/s", 0.30, 0.01, 10, true},
}

// Stage is how a stage is read.
type Stage struct {
	Length, Look time.Duration
	Threshold    float64 // a fraction
	MinRequests  float64
	Alpha        float64
}

// DefaultStage is the issue's: 5 minutes read every 5 s, 5%, 20 requests, alpha 1%.
var DefaultStage = Stage{Length: 5 * time.Minute, Look: 5 * time.Second, Threshold: 0.05, MinRequests: 20, Alpha: 0.01}

// Judges are the rules compared, by name.
var Judges = []string{"before (Wilson 99% per look, estimate at the end)", "anytime-valid, threshold only (baseline: none)", "anytime-valid vs stable (baseline: stable)"}

// Result is how one judge did on one row.
type Result struct {
	Aborted float64       // share of stages aborted (during or at the end)
	Early   float64       // share aborted before the stage's end
	Median  time.Duration // median time to abort, of those aborted (0: none)
}

// Simulate runs n stages of row, each judged by every judge on the same draws.
func Simulate(row Row, s Stage, n int, rng *rand.Rand) []Result {
	looks := int(s.Length / s.Look)
	times := make([][]time.Duration, len(Judges))
	early := make([]int, len(Judges))
	for i := 0; i < n; i++ {
		var kc, ks, nc, ns float64
		judges := []*analysis.StageJudge{
			{Limits: analysis.Limits{ErrorRate: s.Threshold, MinRequests: s.MinRequests, Alpha: s.Alpha}},
			{Limits: analysis.Limits{ErrorRate: s.Threshold, MinRequests: s.MinRequests, Alpha: s.Alpha, Baseline: true}},
		}
		done := make([]bool, len(Judges))
		for l := 1; l <= looks; l++ {
			mc, ms := int(row.RPS*s.Look.Seconds()), int(9*row.RPS*s.Look.Seconds())
			kc += float64(binomial(rng, mc, row.Canary))
			ks += float64(binomial(rng, ms, row.Stable))
			nc, ns = nc+float64(mc), ns+float64(ms)
			at := time.Duration(l) * s.Look
			last := l == looks
			c := analysis.Observation{Errors: kc, Requests: nc, RequestsKnown: true, Ratio: kc / nc, P99: analysis.Sample{NoData: true}}
			st := analysis.Observation{Errors: ks, Requests: ns, RequestsKnown: true, Ratio: ks / ns, P99: analysis.Sample{NoData: true}}
			verdicts := []analysis.Verdict{before(kc, nc, s, last)}
			for _, j := range judges {
				v := j.Observe(c, st).Verdict
				if last && v != analysis.Fail {
					v = j.End().Verdict
				}
				verdicts = append(verdicts, v)
			}
			for k, v := range verdicts {
				if !done[k] && v == analysis.Fail {
					done[k] = true
					times[k] = append(times[k], at)
					if !last {
						early[k]++
					}
				}
			}
		}
	}
	out := make([]Result, len(Judges))
	for k := range Judges {
		out[k] = Result{Aborted: float64(len(times[k])) / float64(n), Early: float64(early[k]) / float64(n), Median: median(times[k])}
	}
	return out
}

// before is the rule the anytime-valid tests replaced: fail at a look when the whole 99%
// Wilson interval is above the threshold; at the end, on the point estimate.
func before(k, n float64, s Stage, last bool) analysis.Verdict {
	r := analysis.JudgeRatio(k, n, s.Threshold, s.MinRequests)
	if last {
		return r.Final(s.Threshold)
	}
	return r.Verdict
}

// binomial draws the number of successes in n trials of probability p, by waiting times
// (geometric gaps): its cost is about n·p.
func binomial(rng *rand.Rand, n int, p float64) int {
	if p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	lq := math.Log(1 - p)
	k, pos := 0, 0
	for {
		pos += int(math.Log(1-rng.Float64())/lq) + 1
		if pos > n {
			return k
		}
		k++
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func main() {
	n := flag.Int("n", 10000, "stages per row")
	seed := flag.Int64("seed", 1, "random seed")
	flag.Parse()
	rng := rand.New(rand.NewSource(*seed))
	s := DefaultStage
	fmt.Printf("judge simulation: %d stages per row; a %s stage read every %s; error_threshold %g%%, min_requests %g, alpha %g; canary at 10%% of traffic\n\n",
		*n, s.Length, s.Look, 100*s.Threshold, s.MinRequests, s.Alpha)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "row\tright answer\t%s\n", strings.Join(Judges, "\t"))
	ok := true
	for _, row := range Rows {
		res := Simulate(row, s, *n, rng)
		want := "pass"
		if row.Worse {
			want = "abort"
		}
		cells := []string{row.Name, want}
		for k, r := range res {
			cells = append(cells, cell(r))
			if k > 0 && !row.Worse && r.Aborted > s.Alpha && !(k == 1 && row.Stable > s.Threshold) {
				ok = false
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	_ = tw.Flush()
	fmt.Println("\neach cell: aborted in all (before the stage's end) · median time to abort")
	ok = printScrapes(s, *n, rng) && ok
	if !ok {
		fmt.Println("FAIL: an anytime-valid judge aborted more than alpha of the stages that were not worse")
		os.Exit(1)
	}
	fmt.Printf("every anytime-valid false-abort rate is at most alpha (%g), outages aside for the threshold-only judge\n", s.Alpha)
}

// printScrapes prints the scrape table — per scrape interval and row, the judge reading
// increase() against the judge reading exact counts — and says whether every exact judge kept
// its false aborts within alpha.
func printScrapes(s Stage, n int, rng *rand.Rand) bool {
	fmt.Printf("\nthrough Prometheus: the counters scraped every 15, 30 or 60 s (one series per track, a random phase); %d stages per row\n\n", n)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "scrape\trow\tright answer\t%s\n", strings.Join(ScrapeJudges, "\t"))
	ok := true
	for _, every := range Scrapes {
		for _, row := range Rows {
			res := SimulateScrapes(row, s, every, n, rng)
			want := "pass"
			if row.Worse {
				want = "abort"
			}
			cells := []string{every.String(), row.Name, want}
			for k, r := range res {
				cells = append(cells, cell(r))
				if k >= 2 && !row.Worse && r.Aborted > s.Alpha && !(k == 2 && row.Stable > s.Threshold) {
					ok = false
				}
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
	}
	_ = tw.Flush()
	return ok
}

func cell(r Result) string {
	m := "–"
	if r.Median > 0 {
		m = r.Median.String()
	}
	return fmt.Sprintf("%.2f%% (%.2f%%) · %s", 100*r.Aborted, 100*r.Early, m)
}
