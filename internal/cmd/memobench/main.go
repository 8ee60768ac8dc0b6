// Command memobench measures inspection of a release after its previous
// release was inspected with the analysis memo (the store keeps each
// source file's analysis by content): usage memobench PREV NEXT...
package main

import (
	"fmt"
	"os"
	"time"

	"airlock/inspect"
)

type memo map[string][]byte

func (m memo) Get(k string) ([]byte, bool) { v, ok := m[k]; return v, ok }
func (m memo) Put(k string, v []byte)      { m[k] = v }

func run(path string, m inspect.Memo) (time.Duration, int) {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	st, _ := f.Stat()
	lim := inspect.DefaultLimits()
	lim.Memo = m
	inspect.ForgetAnalyses() // what this process remembers: a restart
	t := time.Now()
	rep, err := inspect.File(f, st.Size(), st.Name(), lim)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	return time.Since(t), len(rep.Findings)
}

func main() {
	prev, next := os.Args[1], os.Args[2:]
	m := memo{}
	d, _ := run(prev, m)
	fmt.Printf("%-50s %7.2fs (cold, memo filled: %d analyses)\n", prev, d.Seconds(), len(m))
	for _, n := range next {
		cold, nc := run(n, nil)
		warm, nw := run(n, m)
		fmt.Printf("%-50s %7.2fs cold, %7.2fs with the previous release's memo (%d and %d findings)\n", n, cold.Seconds(), warm.Seconds(), nc, nw)
	}
}
