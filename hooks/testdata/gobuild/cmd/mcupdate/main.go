// Command mcupdate is a stand-in for the real one: install_test.go builds it
// through install.sh's `go build` path, independent of the state of the real
// source tree.
package main

import (
	"fmt"
	"os"
)

func main() {
	switch {
	case len(os.Args) == 2 && os.Args[1] == "version":
		fmt.Println("mcupdate fake-for-install-test")
		return
	case len(os.Args) == 3 && os.Args[1] == "completion":
		fmt.Println("# fake " + os.Args[2] + " completion for mcupdate")
		return
	case len(os.Args) == 2 && os.Args[1] == "man":
		fmt.Println(".TH MCUPDATE 1")
		return
	}
	fmt.Fprintln(os.Stderr, "mcupdate (fake): unexpected arguments", os.Args[1:])
	os.Exit(2)
}
