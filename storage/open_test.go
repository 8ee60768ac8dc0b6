package storage

import (
	"strings"
	"testing"
)

// A blob store is chosen by its URL's scheme; one this airlock does not
// know is refused by name with the forms it does.
func TestBlobBackendByScheme(t *testing.T) {
	if err := ValidateBlobURL("s3://bucket/prefix"); err != nil {
		t.Errorf("s3: %v", err)
	}
	for _, bad := range []string{"gs://bucket/x", "bucket/x", "s3://"} {
		err := ValidateBlobURL(bad)
		if err == nil {
			t.Errorf("%s accepted", bad)
			continue
		}
		if !strings.HasPrefix(bad, "s3://") && !strings.Contains(err.Error(), "s3://BUCKET/PREFIX") {
			t.Errorf("%s: %v does not say what is known", bad, err)
		}
	}
}
