package spectest

import "encoding/json"

// Envelope is the JSON envelope of every API response, as a client decodes
// it in tests: Data stays raw for the caller to decode into its own type.
type Envelope struct {
	Success    bool            `json:"success"`
	StatusCode int             `json:"statusCode"`
	Message    string          `json:"message"`
	Data       json.RawMessage `json:"data"`
	Error      *EnvelopeError  `json:"error"`
	Timestamp  string          `json:"timestamp"`
	Path       string          `json:"path"`
	RequestID  string          `json:"requestId"`
}

// EnvelopeError is the error member of an error envelope.
type EnvelopeError struct {
	Code    string `json:"code"`
	Details []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"details"`
}

// Code is the error code, "" on success.
func (e Envelope) Code() string {
	if e.Error == nil {
		return ""
	}
	return e.Error.Code
}
