// Command mcupdate is a stand-in for the real one: install_test.go builds it
// through install.sh's `go build` path, independent of the state of the real
// source tree.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "version" {
		fmt.Println("mcupdate fake-for-install-test")
		return
	}
	fmt.Fprintln(os.Stderr, "mcupdate (fake): unexpected arguments", os.Args[1:])
	os.Exit(2)
}
