package simpleapi

import (
	"testing"

	"airlock/index"
)

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name, accept, want string
	}{
		{"pip", "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01", index.MediaJSON},
		{"uv", "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01", index.MediaJSON},
		{"none", "", index.MediaTextHTML},
		{"any", "*/*", index.MediaTextHTML},
		{"html only", "text/html", index.MediaTextHTML},
		{"v1 html only", "application/vnd.pypi.simple.v1+html", index.MediaHTML},
		{"json only", "application/vnd.pypi.simple.v1+json", index.MediaJSON},
		{"latest json", "application/vnd.pypi.simple.latest+json", index.MediaJSON},
		{"html preferred by q", "application/vnd.pypi.simple.v1+json;q=0.5, text/html", index.MediaTextHTML},
		{"json excluded", "application/vnd.pypi.simple.v1+json;q=0, */*;q=0.1", index.MediaTextHTML},
		{"application wildcard", "application/*", index.MediaHTML},
		{"unknown type falls back", "image/png", index.MediaTextHTML},
		{"garbage", ";;;,,,q=", index.MediaTextHTML},
		{"case insensitive", "Application/VND.PYPI.SIMPLE.V1+JSON", index.MediaJSON},
		{"bad q ignored", "application/vnd.pypi.simple.v1+json;q=7, text/html;q=0.5", index.MediaTextHTML},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Negotiate(tt.accept); got != tt.want {
				t.Errorf("Negotiate(%q) = %q, want %q", tt.accept, got, tt.want)
			}
		})
	}
}
