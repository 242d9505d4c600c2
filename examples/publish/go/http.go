// Publish one event with HTTP POST /v1/publish (docs/protocol.md §8), standard library only.
// Run: go run http.go         (HERALD_URL: the gateway, default http://127.0.0.1:8080)
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

func main() {
	url := os.Getenv("HERALD_URL")
	if url == "" {
		url = "http://127.0.0.1:8080"
	}
	body := `{"channel":"demo","type":"greeting","data":{"from":"go-http"}}`
	response, err := http.Post(url+"/v1/publish", "application/json", strings.NewReader(body))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	reply, _ := io.ReadAll(response.Body)
	fmt.Println(string(reply)) // {"channel":"demo","seq":1,"epoch":"…","duplicate":false}
	if response.StatusCode != http.StatusOK {
		os.Exit(1)
	}
}
