package hub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/brinkhq/brink/internal/hub/runs"
)

// tick is the once-a-second message of the live stream.
type tick struct {
	NowMs           int64            `json:"now_ms"`
	HeadMaxTimeMs   int64            `json:"head_max_time_ms"`
	SamplesAppended int64            `json:"samples_appended_total"`
	Series          uint64           `json:"series"`
	Runs            []runs.LivePoint `json:"runs"`
}

const (
	streamInterval = time.Second
	// streamMaxAge ends a stream after a while; EventSource reconnects by
	// itself, and no connection lives forever.
	streamMaxAge = 6 * time.Hour
)

// handleStream pushes a tick every second and every new event at once, as
// Server-Sent Events, until the client goes or the hub stops.
func (h *Hub) handleStream(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "internal", "streaming is not supported by this connection")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()

	ctx := r.Context()
	evs := h.events.Subscribe(ctx)
	ticker := time.NewTicker(streamInterval)
	defer ticker.Stop()
	deadline := time.NewTimer(streamMaxAge)
	defer deadline.Stop()
	send := func(event string, v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	if !send("tick", h.tick()) {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case e, ok := <-evs:
			if !ok || !send("event", e) {
				return
			}
		case <-ticker.C:
			// The tick also keeps proxies from closing an idle connection.
			if !send("tick", h.tick()) {
				return
			}
		}
	}
}

func (h *Hub) tick() tick {
	st := h.db.Stats()
	live := h.runs.Live(time.Minute)
	if live == nil {
		live = []runs.LivePoint{}
	}
	return tick{
		NowMs: h.now().UnixMilli(), HeadMaxTimeMs: st.HeadMaxTime, SamplesAppended: h.samplesAppended.Load(),
		Series: st.Series, Runs: live,
	}
}
