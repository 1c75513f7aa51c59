package trend

import "time"

// MinuteFloor is the oldest minute bucket a replay with r writes.
func (r Rebuildable) MinuteFloor() time.Time { return r.minuteFloor }
