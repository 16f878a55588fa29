package daemon

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/storebox/storebox/daemon/doors"
	"github.com/storebox/storebox/daemon/httpapi"
)

func (d *Daemon) doorsRoutes() {
	h := d.http
	h.Mux.HandleFunc("POST /api/v1/doors/{id}/open", h.Admin(func(w http.ResponseWriter, r *http.Request) {
		if d.doors == nil {
			httpapi.Error(w, http.StatusNotFound, "no MQTT broker running (mqtt.listen is empty)")
			return
		}
		var body struct {
			OpenID string `json:"openId"`
			Reason string `json:"reason"`
		}
		b, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if len(b) > 0 {
			if err := json.Unmarshal(b, &body); err != nil {
				httpapi.Error(w, http.StatusBadRequest, "body: "+err.Error())
				return
			}
		}
		if body.Reason == "" {
			body.Reason = "staff"
		}
		err := d.doors.Open(r.Context(), r.PathValue("id"), body.OpenID, body.Reason)
		var de *doors.DoorError
		switch {
		case err == nil:
			httpapi.JSON(w, 200, map[string]any{"door": r.PathValue("id"), "opened": true})
		case errors.Is(err, doors.ErrUnknownDoor):
			httpapi.Error(w, http.StatusNotFound, err.Error())
		case errors.Is(err, doors.ErrDoorOffline), errors.Is(err, doors.ErrNoAck), errors.As(err, &de):
			httpapi.Error(w, http.StatusBadGateway, err.Error())
		default:
			httpapi.Error(w, 500, err.Error())
		}
	}))
}
