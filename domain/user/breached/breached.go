// Package breached tells whether a password is on a list of passwords
// known from public breaches (see README.md for the list's source), so that
// NIST SP 800-63B 3.1.1.2 and ASVS 6.2.4 can be followed without any
// network access at run time.
package breached

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"io"
	"sort"
	"strings"
	"sync"
)

//go:embed common-passwords.txt.gz
var compressed []byte

// MinLength is the shortest entry kept: shorter passwords are refused by
// the length rule before the list is asked.
const MinLength = 8

// list is the loaded set: the file's entries (lower-cased, sorted, unique,
// one per line); entry i is blob[offsets[i]:offsets[i+1]-1].
type list struct {
	blob    string
	offsets []uint32
}

var (
	once   sync.Once
	loaded list
)

// load decompresses the embedded list once, on first use (or when the
// service warms it after start), so start time does not pay for it. The
// file is prepared sorted, so loading is one pass.
func load() {
	zr, err := gzip.NewReader(bytes.NewReader(compressed))
	if err != nil {
		panic("breached: embedded list unreadable: " + err.Error())
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		panic("breached: embedded list unreadable: " + err.Error())
	}
	blob := string(raw)
	offsets := make([]uint32, 0, strings.Count(blob, "\n")+1)
	offsets = append(offsets, 0)
	for i := 0; i < len(blob); i++ {
		if blob[i] == '\n' {
			offsets = append(offsets, uint32(i+1))
		}
	}
	loaded = list{blob: blob, offsets: offsets}
}

func (l list) entry(i int) string { return l.blob[l.offsets[i] : l.offsets[i+1]-1] }

// Len is the number of distinct entries loaded.
func Len() int {
	once.Do(load)
	return len(loaded.offsets) - 1
}

// Contains reports whether password, lower-cased, is on the list.
func Contains(password string) bool {
	once.Do(load)
	p := strings.ToLower(password)
	l := loaded
	n := len(l.offsets) - 1
	i := sort.Search(n, func(i int) bool { return l.entry(i) >= p })
	return i < n && l.entry(i) == p
}

// Warm loads the list now, so the first password check does not wait.
func Warm() { once.Do(load) }
