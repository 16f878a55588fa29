package main

import (
	"debug/buildinfo"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	mit := "Copyright (c) 2020 A\n\nPermission is hereby granted, free of charge, to any person\nobtaining a copy ... The above copyright notice and this permission\nnotice shall be included in all copies."
	bsd3 := "Redistribution and use in source and binary forms, with or without modification ... Redistributions in binary form must reproduce ... Neither the name of Google Inc. nor"
	bsd2 := "Redistribution and use in source and binary forms, with or without modification ... Redistributions in binary form must reproduce the above"
	for text, want := range map[string]string{
		mit:  "Expat",
		bsd3: "BSD-3-clause",
		bsd2: "BSD-2-clause",
		"Apache License\nVersion 2.0, January 2004": "Apache-2.0",
		mit + "\n" + bsd3:                      "Expat and BSD-3-clause",
		"GNU GENERAL PUBLIC LICENSE Version 3": "",
	} {
		if got := strings.Join(classify(text), " and "); got != want {
			t.Errorf("classify(%.40q...) = %q, want %q", text, got, want)
		}
	}
}

// An unknown licence stops the build instead of shipping unread.
func TestUnknownLicenceFails(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "LICENSE"), []byte("GNU AFFERO GENERAL PUBLIC LICENSE\nVersion 3"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := stanza(module{Path: "example.com/agpl", Version: "v1.0.0", Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "not one this tool knows") {
		t.Fatalf("err = %v, want an unknown-licence error", err)
	}
	os.Remove(filepath.Join(dir, "LICENSE"))
	if _, err := stanza(module{Path: "example.com/none", Version: "v1.0.0", Dir: dir}); err == nil {
		t.Fatal("a module without a licence file passed")
	}
}

// The test binary's own modules each get a paragraph with a licence.
func TestGenerateCoversEveryModule(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	info, err := buildinfo.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	out, err := generate(exe)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	if !strings.HasPrefix(text, "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n") {
		t.Errorf("no DEP-5 Format line:\n%.200s", text)
	}
	for _, d := range append(info.Deps, &debug.Module{Path: "go/src"}) {
		para := "\nFiles: " + d.Path + "/*\n"
		i := strings.Index(text, para)
		if i < 0 {
			t.Errorf("no paragraph for %s", d.Path)
			continue
		}
		rest := text[i+len(para):]
		if end := strings.Index(rest, "\n\n"); end > 0 {
			rest = rest[:end]
		}
		if !strings.Contains(rest, "\nLicense: ") || !strings.HasPrefix(rest, "Copyright: ") {
			t.Errorf("paragraph for %s lacks Copyright or License:\n%s", d.Path, rest)
		}
	}
}
