// Command mcupdate keeps a mailcow admin's customizations alive through
// mailcow's update.sh. See README.md for the whole story.
package main

import "os"

func main() { os.Exit(Main(os.Args[1:])) }
