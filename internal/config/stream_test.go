package config

import (
	"strings"
	"testing"
)

// STREAM_MAX_CLIENTS bounds the API's live streams: 1000 by default, and
// at least 1 (0 would refuse every stream, not lift the limit).
func TestStreamMaxClients(t *testing.T) {
	if c, err := FromEnv(nil); err != nil || c.StreamMaxClients != 1000 {
		t.Errorf("default: got %d, error %v, want 1000", c.StreamMaxClients, err)
	}
	if c, err := FromEnv([]string{"STREAM_MAX_CLIENTS="}); err != nil || c.StreamMaxClients != 1000 {
		t.Errorf("STREAM_MAX_CLIENTS empty: got %d, error %v, want the default 1000", c.StreamMaxClients, err)
	}
	if c, err := FromEnv([]string{"STREAM_MAX_CLIENTS=50"}); err != nil || c.StreamMaxClients != 50 {
		t.Errorf("STREAM_MAX_CLIENTS=50: got %d, error %v", c.StreamMaxClients, err)
	}
	for _, v := range []string{"0", "-1", "many"} {
		if _, err := FromEnv([]string{"STREAM_MAX_CLIENTS=" + v}); err == nil || !strings.Contains(err.Error(), "STREAM_MAX_CLIENTS") {
			t.Errorf("STREAM_MAX_CLIENTS=%s: got error %v, want one naming it", v, err)
		}
	}
}
