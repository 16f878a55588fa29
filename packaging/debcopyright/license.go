package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// commonLicenses maps a DEP-5 licence name to its file in
// /usr/share/common-licenses; those texts are referred to, not copied.
var commonLicenses = map[string]string{
	"Apache-2.0": "Apache-2.0",
	"MPL-2.0":    "MPL-2.0",
}

// classify names the licences whose texts one licence file carries (some
// modules bundle several in one file), or nil when it knows none of them.
// Each test uses wording only that licence has.
func classify(text string) []string {
	t := strings.Join(strings.Fields(strings.ToLower(text)), " ")
	has := func(s ...string) bool {
		for _, x := range s {
			if !strings.Contains(t, x) {
				return false
			}
		}
		return true
	}
	// Eclipse projects offer EPL-2.0 or the EDL (a BSD-3-clause text).
	switch {
	case has("eclipse public license", "eclipse distribution license v1.0", "dual-licensing"):
		return []string{"EPL-2.0 or EDL-1.0"}
	case has("eclipse distribution license - v 1.0", "redistribution and use in source and binary forms"):
		return []string{"EDL-1.0"}
	case has("eclipse public license - v 2.0", "accompanying program is provided under the terms"):
		return []string{"EPL-2.0"}
	}
	var out []string
	add := func(name string, ok bool) {
		if ok {
			out = append(out, name)
		}
	}
	add("Apache-2.0", has("apache license", "version 2.0"))
	add("MPL-2.0", has("mozilla public license", "version 2.0"))
	add("Expat", has("permission is hereby granted, free of charge", "the above copyright notice and this permission notice shall be included"))
	add("ISC", has("permission to use, copy, modify, and/or distribute this software for any purpose with or without fee") ||
		has("permission to use, copy, modify, and distribute this software for any purpose with or without fee"))
	add("Zlib", has("permission is granted to anyone to use this software for any purpose", "the origin of this software must not be misrepresented"))
	bsd := has("redistribution and use in source and binary forms", "redistributions in binary form must reproduce")
	bsd3 := bsd && (has("neither the name") || has("names of its contributors may be used to endorse"))
	add("BSD-3-clause", bsd3)
	add("BSD-2-clause", bsd && !bsd3)
	return out
}

// paragraph is one Files paragraph of the copyright file.
type paragraph struct {
	files, copyright, license, commonFile, text, comment string
}

func (p paragraph) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Files: %s\nCopyright: %s\nLicense: %s\n", p.files, indentCont(p.copyright), p.license)
	if p.commonFile == "" {
		b.WriteString(indent(p.text))
	}
	if p.comment != "" {
		fmt.Fprintf(&b, "Comment: %s", indent(p.comment)[1:])
	}
	return b.String()
}

var (
	licenseFile  = regexp.MustCompile(`(?i)^(licen[cs]e|copying|unlicense|edl-v10|epl-v20)([-._].*)?$`)
	noticeFile   = regexp.MustCompile(`(?i)^(notice|patents)([-._].*)?$`)
	copyrightLn  = regexp.MustCompile(`(?i)^(copyright\b|©|\(c\)\s*\d{4})`)
	noticePrefix = regexp.MustCompile(`(?i)^(copyright\b\s*:?\s*|\(c\)\s*|©\s*)+`)
	// Lines of a licence's own appendix template, not anyone's notice.
	templateLn = regexp.MustCompile(`(?i)\[yyyy\]|\{yyyy\}|<year>|\[name of copyright owner\]|copyright notice|copyright holders? and contributors|copyright (owner|holder|law)|copyright license|copyright,? (and|or) |copyright statement`)
)

// stanza reads a module's top-level licence and notice files.
func stanza(m module) (paragraph, error) {
	entries, err := os.ReadDir(m.Dir)
	if err != nil {
		return paragraph{}, fmt.Errorf("module %s: %w", m.Path, err)
	}
	var licenses, notices []string
	for _, e := range entries {
		switch {
		case e.IsDir():
		case licenseFile.MatchString(e.Name()):
			licenses = append(licenses, e.Name())
		case noticeFile.MatchString(e.Name()):
			notices = append(notices, e.Name())
		}
	}
	if len(licenses) == 0 {
		return paragraph{}, fmt.Errorf("module %s %s: no licence file in %s", m.Path, m.Version, m.Dir)
	}
	sort.Strings(licenses)
	p := paragraph{files: m.Path + "/*"}
	if m.Path == stdPath {
		p.files = "go/src/*"
	}
	var names, texts []string
	var copyrights []string
	seen := map[string]bool{}
	for _, f := range licenses {
		raw, err := os.ReadFile(filepath.Join(m.Dir, f))
		if err != nil {
			return paragraph{}, fmt.Errorf("module %s: %w", m.Path, err)
		}
		found := classify(string(raw))
		if len(found) == 0 {
			return paragraph{}, fmt.Errorf("module %s %s: the licence in %s is not one this tool knows (read it, then teach classify)", m.Path, m.Version, f)
		}
		if name := strings.Join(found, " and "); !seen[name] {
			seen[name] = true
			names = append(names, name)
			texts = append(texts, strings.TrimSpace(string(raw)))
		}
		copyrights = append(copyrights, copyrightLines(string(raw))...)
	}
	p.license, err = choice(names)
	if err != nil {
		return paragraph{}, fmt.Errorf("module %s %s: %w", m.Path, m.Version, err)
	}
	p.commonFile = commonLicenses[p.license]
	p.text = stripCommon(strings.Join(texts, "\n\n"))
	comment := []string{fmt.Sprintf("Go module %s %s, linked into /usr/bin/storebox.", m.Path, m.Version)}
	if m.Path == stdPath {
		comment[0] = fmt.Sprintf("The Go standard library and runtime of %s, linked into /usr/bin/storebox.", m.Version)
	}
	for _, f := range notices {
		raw, err := os.ReadFile(filepath.Join(m.Dir, f))
		if err != nil {
			return paragraph{}, fmt.Errorf("module %s: %w", m.Path, err)
		}
		copyrights = append(copyrights, copyrightLines(string(raw))...)
		comment = append(comment, "", "Its "+f+" file:", "", strings.TrimSpace(string(raw)))
	}
	p.comment = strings.Join(comment, "\n")
	if len(copyrights) == 0 {
		copyrights = sourceNotices(m.Dir, entries)
	}
	p.copyright = strings.Join(dedupe(copyrights), "\n")
	if p.copyright == "" {
		p.copyright = "the authors of " + m.Path + " (its licence file names none)"
	}
	return p, nil
}

// copyrightLines returns the copyright notices in a licence file, without
// the licence's own "copyright notice" wording.
func copyrightLines(text string) []string {
	var out []string
	for _, ln := range strings.Split(text, "\n") {
		ln = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(ln), "/#*"))
		if strings.HasSuffix(ln, ":") || !copyrightLn.MatchString(ln) || templateLn.MatchString(ln) || !strings.ContainsAny(ln, "0123456789") {
			continue
		}
		ln = noticePrefix.ReplaceAllString(ln, "")
		if ln = strings.TrimSpace(ln); ln != "" {
			out = append(out, ln)
		}
	}
	return out
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// indent formats text as a DEP-5 continuation: each line after one space,
// empty lines as " .".
func indent(text string) string {
	var b strings.Builder
	for _, ln := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		ln = strings.TrimRight(ln, " \t\r")
		if ln == "" {
			b.WriteString(" .\n")
		} else {
			b.WriteString(" " + ln + "\n")
		}
	}
	return b.String()
}

// indentCont writes a multi-line field value with continuation lines.
func indentCont(v string) string {
	return strings.ReplaceAll(v, "\n", "\n ")
}

// choice folds the licences of one module's files into one DEP-5 licence
// expression: a single licence, or "A or B" when one file offers a choice
// and the others are its alternatives' texts.
func choice(names []string) (string, error) {
	if len(names) == 1 {
		return names[0], nil
	}
	for _, n := range names {
		alts := strings.Split(n, " or ")
		if len(alts) < 2 {
			continue
		}
		covered := true
		for _, m := range names {
			if m != n && !slices.Contains(alts, m) {
				covered = false
			}
		}
		if covered {
			return n, nil
		}
	}
	return "", fmt.Errorf("several licences %v and none offers a choice of the others: write its paragraph by hand", names)
}

// apacheText is the Apache License 2.0's terms as bundled in a licence
// file next to other licences; Debian has it in common-licenses.
var apacheText = regexp.MustCompile(`(?s)Apache License\s+Version 2\.0, January 2004.*?END OF TERMS AND CONDITIONS(.*?limitations under the License\.)?`)

// stripCommon replaces a bundled copy of a licence Debian ships in
// /usr/share/common-licenses with a pointer to it.
func stripCommon(text string) string {
	return apacheText.ReplaceAllString(text, "[The Apache License, Version 2.0: see /usr/share/common-licenses/Apache-2.0.]")
}

// sourceNotices reads the copyright lines at the top of a module's
// top-level Go files, for modules whose licence file carries none (the
// Apache licence's text has no notice of its own).
func sourceNotices(dir string, entries []os.DirEntry) []string {
	var out []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		head := strings.SplitN(string(raw), "\n", 20)
		out = append(out, copyrightLines(strings.Join(head[:len(head)-1], "\n"))...)
	}
	return dedupe(out)
}
