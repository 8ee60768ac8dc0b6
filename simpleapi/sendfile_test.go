package simpleapi

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"airlock/internal/fakepypi"
)

// fileCopyWriter is a response writer that, like net/http's, takes
// ReadFrom; it records what reader reached it.
type fileCopyWriter struct {
	*httptest.ResponseRecorder
	got io.Reader
}

func (w *fileCopyWriter) ReadFrom(r io.Reader) (int64, error) {
	w.got = r
	return io.Copy(w.ResponseRecorder, r)
}

// TestFileBodyReachesSendfile: through the access log, the metrics counter
// and http.ServeContent, the stored file's reader reaches the connection's
// ReadFrom unwrapped (a LimitedReader over the *os.File), which is what
// lets net/http use sendfile.
func TestFileBodyReachesSendfile(t *testing.T) {
	h := newHarness(t)
	d := h.fake.AddWheel(fakepypi.WheelSpec{Name: "big", Version: "1.0", PayloadBytes: 1 << 20}, uploaded)
	if resp, _ := h.get(fileURL(d)); resp.StatusCode != 200 { // fill the store
		t.Fatal(resp.Status)
	}
	w := &fileCopyWriter{ResponseRecorder: httptest.NewRecorder()}
	h.srv.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, fileURL(d), nil))
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), d.Data) {
		t.Fatalf("status %d, %d bytes", w.Code, w.Body.Len())
	}
	lr, ok := w.got.(*io.LimitedReader)
	if !ok {
		t.Fatalf("the connection's ReadFrom got %T, want *io.LimitedReader over the file", w.got)
	}
	if _, ok := lr.R.(*os.File); !ok {
		t.Errorf("the limited reader wraps %T, want *os.File", lr.R)
	}
}
