package inspect

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"path"
	"regexp"
	"strings"
)

// scanner hashes every member and looks at what it contains.
type scanner struct {
	rep *Report
	lim Limits
	buf []byte
}

func newScanner(rep *Report, lim Limits) *scanner {
	return &scanner{rep: rep, lim: lim, buf: make([]byte, 32<<10)}
}

// member streams one member: it returns its RECORD-style sha256, and its
// content when keep is set (metadata files, at most 1 MiB).
func (s *scanner) member(name string, r io.Reader, keep bool) (string, []byte, error) {
	h := sha256.New()
	base := path.Base(name)
	text := strings.HasSuffix(base, ".py") || strings.HasSuffix(base, ".pth")
	var head bytes.Buffer // first bytes, for magic numbers
	var kept bytes.Buffer // text to scan, or metadata to keep
	maxKeep := int64(0)
	if text {
		maxKeep = s.lim.MaxScanBytes
	} else if keep {
		maxKeep = 1 << 20
	}
	truncated := false
	for {
		n, err := r.Read(s.buf)
		if n > 0 {
			chunk := s.buf[:n]
			h.Write(chunk)
			if head.Len() < 4096 {
				head.Write(chunk[:min(n, 4096-head.Len())])
			}
			if room := maxKeep - int64(kept.Len()); room > 0 {
				kept.Write(chunk[:min(int64(n), room)])
			} else if maxKeep > 0 {
				truncated = true
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", nil, err
		}
	}
	sum := b64sum(h.Sum(nil))
	if kind := nativeKind(head.Bytes()); kind != "" {
		s.rep.add(Finding{Severity: Info, Kind: "native-executable", Path: name, Message: kind + " executable"})
	}
	if text {
		if truncated {
			s.rep.add(Finding{Severity: Medium, Kind: "unscanned", Path: name, Message: "source file larger than the scan limit; only its start was scanned"})
		}
		s.scanText(name, kept.Bytes())
	}
	if keep {
		return sum, kept.Bytes(), nil
	}
	return sum, nil, nil
}

// nativeKind recognises ELF, Mach-O and PE executables by their magic.
func nativeKind(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x7fELF")):
		return "ELF"
	case len(b) >= 4 && (binary.BigEndian.Uint32(b) == 0xfeedface || binary.BigEndian.Uint32(b) == 0xfeedfacf ||
		binary.BigEndian.Uint32(b) == 0xcefaedfe || binary.BigEndian.Uint32(b) == 0xcffaedfe || binary.BigEndian.Uint32(b) == 0xcafebabe):
		return "Mach-O"
	case bytes.HasPrefix(b, []byte("MZ")) && len(b) >= 0x40:
		off := int(binary.LittleEndian.Uint32(b[0x3c:]))
		if off > 0 && off+4 <= len(b) && bytes.Equal(b[off:off+4], []byte("PE\x00\x00")) {
			return "PE"
		}
	}
	return ""
}

var (
	reExec      = regexp.MustCompile(`\b(exec|eval|compile)\s*\(`)
	reDecode    = regexp.MustCompile(`\b(b64decode|b32decode|b16decode|a85decode|b85decode|decodebytes|decompress|marshal\.loads|codecs\.decode|fromhex|unhexlify)\b|\.decode\(\s*['"](rot13|rot_13|hex|base64|zlib)`)
	reBlob      = regexp.MustCompile(`["']([A-Za-z0-9+/=_-]{1000,})["']`)
	reSpawn     = regexp.MustCompile(`\bsubprocess\.(Popen|run|call|check_call|check_output|getoutput|getstatusoutput)\b|\bos\.(system|popen|exec[lv]p?e?|spawn[lv]p?e?|posix_spawn)\b|\bpty\.spawn\b|\bPopen\(`)
	reDownload  = regexp.MustCompile(`\burlopen\b|\burlretrieve\b|\brequests\.(get|post|put|request)\b|\bhttpx\.|\burllib3\b|\bhttp\.client\b|\bsocket\.(socket|create_connection)\b|['"](wget|curl)\b`)
	reEnvWhole  = regexp.MustCompile(`\b(dict|str|repr|json\.dumps|list)\(\s*os\.environ\s*\)|\bos\.environ\.(copy|items)\(\)|\bos\.environ\s*\)|=\s*os\.environ\s*$`)
	reDefOrCls  = regexp.MustCompile(`^(async\s+def|def|class)\b`)
	reSetupLike = regexp.MustCompile(`(^|/)(setup\.py|__init__\.py|conftest\.py)$`)
)

// scanText looks at a .py or .pth file.
func (s *scanner) scanText(name string, src []byte) {
	base := path.Base(name)
	if strings.HasSuffix(base, ".pth") {
		for _, line := range strings.Split(string(src), "\n") {
			t := strings.TrimSpace(line)
			if strings.HasPrefix(t, "import ") || strings.HasPrefix(t, "import\t") {
				if topLevel(name) {
					s.rep.add(Finding{Severity: Critical, Kind: "pth-exec", Path: name, Message: ".pth file with an executable line: Python runs it at every interpreter start", Evidence: excerpt(t)})
				} else {
					s.rep.add(Finding{Severity: Medium, Kind: "pth-exec", Path: name, Message: ".pth file with an executable line (not at the top level, so not run unless installed there)", Evidence: excerpt(t)})
				}
				break
			}
		}
		return
	}
	if (base == "sitecustomize.py" || base == "usercustomize.py") && topLevel(name) {
		s.rep.add(Finding{Severity: Critical, Kind: "startup-hook", Path: name, Message: base + " at the top level runs at every interpreter start"})
	}
	lines := strings.Split(string(src), "\n")
	var spawnAt, downloadAt, envAt, execAt string
	var stack []int // indents of enclosing def/class blocks
	for _, raw := range lines {
		t := strings.TrimSpace(raw)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		indent := len(raw) - len(strings.TrimLeft(raw, " \t"))
		for len(stack) > 0 && indent <= stack[len(stack)-1] {
			stack = stack[:len(stack)-1]
		}
		importTime := len(stack) == 0
		if (t[0] == 'd' || t[0] == 'c' || t[0] == 'a') && reDefOrCls.MatchString(t) {
			stack = append(stack, indent)
		}
		// Cheap substring tests first: the regular expressions run on few
		// lines (inspection throughput is mostly hashing, not matching).
		if execAt == "" && (strings.Contains(t, "exec") || strings.Contains(t, "eval") || strings.Contains(t, "compile")) {
			if loc := reExec.FindStringIndex(t); loc != nil && reDecode.MatchString(t[loc[0]:]) {
				execAt = t
				s.rep.add(Finding{Severity: High, Kind: "obfuscated-exec", Path: name, Message: "exec/eval/compile of decoded data", Evidence: excerpt(t)})
			}
		}
		if len(t) >= 1000 && reBlob.MatchString(t) {
			s.rep.add(Finding{Severity: Medium, Kind: "encoded-blob", Path: name, Message: "very long encoded string literal", Evidence: excerpt(t)})
		}
		if envAt == "" && strings.Contains(t, "environ") && reEnvWhole.MatchString(t) {
			envAt = t
		}
		if !importTime {
			continue
		}
		if spawnAt == "" && mayMatch(t, "subprocess", "os.", "Popen", "pty.") && reSpawn.MatchString(t) {
			spawnAt = t
		}
		if downloadAt == "" && mayMatch(t, "url", "requests", "httpx", "http.", "socket", "wget", "curl") && reDownload.MatchString(t) {
			downloadAt = t
		}
	}
	when := "at import time"
	if reSetupLike.MatchString(name) && base == "setup.py" {
		when = "at install time (setup.py)"
	}
	switch {
	case spawnAt != "" && downloadAt != "":
		s.rep.add(Finding{Severity: High, Kind: "download-exec", Path: name, Message: "downloads and starts a process " + when, Evidence: excerpt(spawnAt) + " | " + excerpt(downloadAt)})
	case spawnAt != "":
		s.rep.add(Finding{Severity: High, Kind: "spawn", Path: name, Message: "starts a process " + when, Evidence: excerpt(spawnAt)})
	}
	if envAt != "" && (downloadAt != "" || reDownload.Match(src)) {
		s.rep.add(Finding{Severity: Critical, Kind: "env-exfiltration", Path: name, Message: "reads the whole environment and uses the network", Evidence: excerpt(envAt)})
	}
}

// topLevel reports whether a member sits where Python puts it on sys.path:
// the archive root, or a wheel's .data/purelib or platlib.
func topLevel(name string) bool {
	if !strings.Contains(name, "/") {
		return true
	}
	dir := path.Dir(name)
	return strings.HasSuffix(dir, ".data/purelib") || strings.HasSuffix(dir, ".data/platlib")
}

func excerpt(s string) string {
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}

func mayMatch(line string, words ...string) bool {
	for _, w := range words {
		if strings.Contains(line, w) {
			return true
		}
	}
	return false
}
