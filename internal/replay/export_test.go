package replay

// AfterRound returns opts with f called after each catch-up round, before
// the next one (or the final round, under the lock).
func AfterRound(opts Options, f func()) Options {
	opts.afterRound = f
	return opts
}

// BeforeCommit returns opts with f called once a switch is ready to commit.
func BeforeCommit(opts Options, f func()) Options {
	opts.beforeCommit = f
	return opts
}
