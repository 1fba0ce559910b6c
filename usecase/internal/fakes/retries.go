package fakes

// Retries counts the failed attempts an outbox worker reports to its
// observer (mail, webhooks): Retried the ones it will try again, GaveUp the
// final ones.
type Retries struct{ Retried, GaveUp int }

// Failed counts one failed attempt; final means no retry follows.
func (r *Retries) Failed(final bool) {
	if final {
		r.GaveUp++
		return
	}
	r.Retried++
}
