// Command debcopyright writes the .deb's /usr/share/doc/storebox/copyright
// (Debian's machine-readable format, DEP-5) for a built storebox binary:
// storebox itself, the Go standard library, and every module the binary
// links (read from its build info, as `go version -m` shows), each with
// the copyright lines and licence text of that module's own licence files
// in the module cache.
//
//	go run ./packaging/debcopyright -o dist/copyright dist/linux_amd64/storebox
//
// A module whose licence it cannot recognise stops the build: a new
// dependency's licence is read by a person before it ships.
package main

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"sort"
	"strings"
)

func main() {
	out := flag.String("o", "", "write here instead of standard output")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: debcopyright [-o FILE] BINARY")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	text, err := generate(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "debcopyright:", err)
		os.Exit(1)
	}
	if *out == "" {
		_, err = os.Stdout.Write(text)
	} else {
		err = os.WriteFile(*out, text, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "debcopyright:", err)
		os.Exit(1)
	}
}

// stdPath stands for the Go standard library in place of a module path.
const stdPath = "std"

// module is one linked module and where its source sits.
type module struct {
	Path, Version, Dir string
}

func generate(binary string) ([]byte, error) {
	info, err := buildinfo.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("read build info of %s: %w", binary, err)
	}
	mods, err := download(info.Deps)
	if err != nil {
		return nil, err
	}
	goroot, err := goEnv("GOROOT")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(header)
	common := map[string]bool{}
	std := module{Path: stdPath, Version: info.GoVersion, Dir: goroot}
	for _, m := range append([]module{std}, mods...) {
		p, err := stanza(m)
		if err != nil {
			return nil, err
		}
		for _, n := range strings.FieldsFunc(p.license, func(r rune) bool { return r == ' ' }) {
			if commonLicenses[n] != "" {
				common[n] = true
			}
		}
		b.WriteString("\n")
		b.WriteString(p.String())
	}
	names := make([]string, 0, len(common))
	for n := range common {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "\nLicense: %s\n On Debian systems, the complete text of the %s licence\n can be found in /usr/share/common-licenses/%s.\n", n, n, commonLicenses[n])
	}
	return b.Bytes(), nil
}

// header is the first paragraph and storebox's own files.
const header = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: storebox
Upstream-Contact: storebox maintainers <storebox@example.com>
Source: https://github.com/storebox/storebox
Comment: /usr/bin/storebox is a statically linked Go program. Besides
 storebox's own code it contains the Go standard library and the Go
 modules listed below (one paragraph per module, generated from the
 binary's build information and each module's licence files).

Files: *
Copyright: storebox maintainers
License: proprietary
 Copyright storebox maintainers. All rights reserved. Licensed to the
 stores that run it under the terms of their storebox agreement.
`

// download asks the go command for each module's directory in the module
// cache (fetching it through the module proxy if it is not there yet).
func download(deps []*debug.Module) ([]module, error) {
	args := []string{"mod", "download", "-json"}
	for _, d := range deps {
		if d.Replace != nil {
			d = d.Replace
		}
		if d.Version == "" {
			return nil, fmt.Errorf("module %s is replaced by a directory; its licence cannot be looked up", d.Path)
		}
		args = append(args, d.Path+"@"+d.Version)
	}
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go mod download: %w\n%s%s", err, stderr.Bytes(), out)
	}
	var mods []module
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m struct{ Path, Version, Dir, Error string }
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go mod download output: %w", err)
		}
		if m.Error != "" {
			return nil, fmt.Errorf("go mod download %s@%s: %s", m.Path, m.Version, m.Error)
		}
		mods = append(mods, module{Path: m.Path, Version: m.Version, Dir: m.Dir})
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	return mods, nil
}

func goEnv(name string) (string, error) {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}
