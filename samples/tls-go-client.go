// HTTPS keep-alive client on Go's own TLS stack (crypto/tls, not OpenSSL)
// for tls-capture.sh, writing its NSS key log through tls.Config.KeyLogWriter.
//
//	tls-go-client ADDR KEYLOG TLS CIPHER PLAN
//
// ADDR host:port; TLS "1.2" or "1.3"; CIPHER a crypto/tls suite name
// (TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 ...) or "" for Go's defaults (TLS
// 1.3 suites cannot be chosen in Go); PLAN a JSON list of steps
// [method, path, wait_ms, body_bytes] as tls-client.py's. One tls.Conn is
// reused: the request is written whole with one write (net/http's
// Request.Write into a buffer), the response read with http.ReadResponse.
// Nothing reads the connection while it idles, so a FIN that arrives then
// goes unnoticed and the next request is written after it: RST. After an
// error the next step dials again. Output: "OK ..." or "ERROR <error>
// METHOD PATH" per request, like the other clients.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: tls-go-client ADDR KEYLOG TLS CIPHER PLAN")
		os.Exit(2)
	}
	addr, keylog, version, cipher := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	var plan [][]interface{}
	if err := json.Unmarshal([]byte(os.Args[5]), &plan); err != nil {
		fmt.Fprintln(os.Stderr, "plan:", err)
		os.Exit(2)
	}
	kl, err := os.OpenFile(keylog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer kl.Close()
	cfg := &tls.Config{InsecureSkipVerify: true, KeyLogWriter: kl}
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS13, tls.VersionTLS13
	if version == "1.2" {
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	}
	if cipher != "" {
		for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
			if s.Name == cipher {
				cfg.CipherSuites = []uint16{s.ID}
			}
		}
		if cfg.CipherSuites == nil {
			fmt.Fprintln(os.Stderr, "unknown cipher suite", cipher)
			os.Exit(2)
		}
	}
	t0 := time.Now()
	var conn *tls.Conn
	var rd *bufio.Reader
	for i, st := range plan {
		method, path := st[0].(string), st[1].(string)
		time.Sleep(time.Duration(st[2].(float64)) * time.Millisecond)
		n := int(st[3].(float64))
		say := func(s string) {
			fmt.Printf("%s %.3f #%d %s %s %s\n", strings.Fields(s)[0], time.Since(t0).Seconds(),
				i+1, method, path, strings.Join(strings.Fields(s)[1:], " "))
		}
		if conn == nil {
			if conn, err = tls.Dial("tcp", addr, cfg); err != nil {
				say("ERROR " + err.Error())
				conn = nil
				continue
			}
			rd = bufio.NewReader(conn)
		}
		var body io.Reader
		if n > 0 {
			body = bytes.NewReader(bytes.Repeat([]byte("g"), n))
		}
		req, _ := http.NewRequest(method, "https://"+addr+path, body)
		var wire bytes.Buffer
		req.Write(&wire)
		conn.SetDeadline(time.Now().Add(3 * time.Second))
		_, err = conn.Write(wire.Bytes())
		var res *http.Response
		if err == nil {
			res, err = http.ReadResponse(rd, req)
		}
		if err == nil {
			_, err = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		if err != nil {
			say(fmt.Sprintf("ERROR %q", err.Error()))
			conn.Close()
			conn = nil
			continue
		}
		st := conn.ConnectionState()
		say(fmt.Sprintf("OK %d %s", res.StatusCode, tls.CipherSuiteName(st.CipherSuite)))
	}
	if conn != nil {
		conn.Close()
	}
}
