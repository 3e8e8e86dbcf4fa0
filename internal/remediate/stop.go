package remediate

import "context"

// stop is why no more actions are taken ("": go ahead). Stop is asked
// before each action until it says stop; from then on every action is
// stopped with that reason, without asking again.
func (e *Executor) stop(ctx context.Context) string {
	if e.stopped == "" && e.Stop != nil {
		if e.stopped = e.Stop(ctx); e.stopped != "" {
			e.log().Warn("emergency stop: no more actions are taken", "reason", e.stopped)
		}
	}
	return e.stopped
}
