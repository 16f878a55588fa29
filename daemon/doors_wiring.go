package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/doors"
	"github.com/storebox/storebox/daemon/httpapi"
	"github.com/storebox/storebox/daemon/supervisor"
)

// doorsComponent runs the embedded MQTT broker and the door service.
func (d *Daemon) doorsComponent() supervisor.Component {
	return supervisor.Component{
		Name: "doors",
		Start: func(context.Context) error {
			svc, err := doors.New(doors.Config{StoreID: d.cfg.StoreID, MQTT: d.cfg.MQTT, Doors: d.cfg.Doors}, d.Orders, d.Store, d.log.With("component", "doors"))
			if err != nil {
				return err
			}
			if err := svc.Start(); err != nil {
				return err
			}
			d.Doors = svc
			// A terminal beside a door sells to whoever that door admitted.
			d.Orders.SetOpenIDProvider(svc.LastAdmitted)
			return nil
		},
		Serve: func(ctx context.Context) error { return d.Doors.Serve(ctx) },
	}
}

func (d *Daemon) doorsRoutes() {
	h := d.HTTP
	h.Mux.HandleFunc("POST /api/v1/doors/{id}/open", h.Admin(func(w http.ResponseWriter, r *http.Request) {
		if d.Doors == nil {
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
		err := d.Doors.Open(r.Context(), r.PathValue("id"), body.OpenID, body.Reason)
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

// Reload applies a freshly loaded configuration: the doors change at
// once (see doors.Service.Reload); any other section that differs is
// named in the log, since it takes a restart.
func (d *Daemon) Reload(cfg *config.Config) error {
	if d.Doors != nil {
		if _, err := d.Doors.Reload(cfg.Doors); err != nil {
			return err
		}
	} else if len(cfg.Doors) > 0 {
		d.log.Warn("doors configured but mqtt.listen is empty; not reloaded")
	}
	old, now := reflect.ValueOf(*d.cfg), reflect.ValueOf(*cfg)
	var restart []string
	for i := range old.NumField() {
		f := old.Type().Field(i)
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if !f.IsExported() || tag == "-" || tag == "doors" {
			continue
		}
		if !reflect.DeepEqual(old.Field(i).Interface(), now.Field(i).Interface()) {
			restart = append(restart, tag)
		}
	}
	if len(restart) > 0 {
		d.log.Warn("configuration changed where a reload does not reach; restart to apply", "sections", restart)
	}
	return nil
}
