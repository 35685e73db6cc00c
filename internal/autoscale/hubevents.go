package autoscale

import (
	"encoding/json"
	"log/slog"

	"github.com/brinkhq/brink/internal/hub/events"
)

// HubEvents records the autoscaler's events in the hub's event log, so they
// appear on the UI's timeline and under /api/v1/events. A decision's
// inputs are kept in the event's fields: one per target, plus the whole
// decision as JSON under "decision".
func HubEvents(log *events.Log, logger *slog.Logger) EventSink {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return EventFunc(func(e Event) {
		f := e.Fields()
		if e.Decision != nil {
			if b, err := json.Marshal(e.Decision); err == nil {
				f["decision"] = string(b)
			}
		}
		if _, err := log.Append(events.Event{
			TimeMs: e.Time.UnixMilli(), Kind: e.Kind, Service: e.Service, Message: e.Message, Fields: f,
		}); err != nil {
			logger.Warn("autoscale event not stored", "kind", e.Kind, "err", err)
		}
	})
}
