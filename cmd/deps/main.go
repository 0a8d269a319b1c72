package main

import (
	_ "github.com/go-git/go-git/v5"
	_ "github.com/hashicorp/go-multierror"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/sergi/go-diff/diffmatchpatch"
	_ "github.com/stretchr/testify/require"
	_ "gopkg.in/ini.v1"
	_ "gopkg.in/yaml.v3"
)

func main() {}
