package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/moby/moby/api/types/common"
	"github.com/shoal/shoal/internal/apierr"
)

// writeJSON sends v as the response body, as the Docker daemon does: compact JSON with a
// trailing newline and no HTML escaping.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeError answers with Docker's error form: the status httpStatus assigns and
// {"message": ...}, which the docker CLI prints as "Error response from daemon: ...".
func writeError(w http.ResponseWriter, err error) {
	_ = writeJSON(w, httpStatus(err), common.ErrorResponse{Message: err.Error()})
}

// statusError is an error with an HTTP status that no apierr.Kind stands for, such as 405:
// such statuses come from routing, never from the backend.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

// httpStatus is the status an error is answered with.
func httpStatus(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.status
	}
	return apierr.HTTPStatus(err)
}

// writeEmpty answers a request that returns nothing, such as an update, with 200 and no body.
func writeEmpty(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusOK)
	return nil
}
