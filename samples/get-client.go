// One-shot Go net/http client for the "socket hang up" family samples.
//
//	go run get-client.go -timeout 500ms URL [URL...]
//
// Requests each URL in turn with one http.Client (default Transport:
// keep-alive; Client.Timeout covers connect, headers and body). Prints one
// line per request: "OK ..." or "ERROR <type> "<err>" ..." with the error
// text verbatim (what Go programs log).
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	timeout := flag.Duration("timeout", 0, "http.Client.Timeout (0 = none)")
	flag.Parse()
	client := &http.Client{Timeout: *timeout}
	t0 := time.Now()
	for _, u := range flag.Args() {
		method := "GET"
		var body io.Reader
		if strings.HasPrefix(u, "POST ") {
			method, u, body = "POST", u[5:], strings.NewReader(`{"n":1}`)
		}
		req, _ := http.NewRequest(method, u, body)
		resp, err := client.Do(req)
		if err == nil {
			var n int64
			n, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil {
				fmt.Printf("OK %.3f %s %s %d body_bytes=%d\n", time.Since(t0).Seconds(), method, u, resp.StatusCode, n)
				time.Sleep(50 * time.Millisecond)
				continue
			}
			fmt.Printf("ERROR %T \"%v\" %.3f %s %s status=%d body_bytes=%d\n", err, err, time.Since(t0).Seconds(), method, u, resp.StatusCode, n)
		} else {
			fmt.Printf("ERROR %T \"%v\" %.3f %s %s\n", err, err, time.Since(t0).Seconds(), method, u)
		}
		time.Sleep(50 * time.Millisecond)
	}
	os.Stdout.Sync()
}
