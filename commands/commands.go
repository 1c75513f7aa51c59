// Package commands holds the requests the API accepts and the worker
// decides on, one type per file. Each carries its own CommandID, which is
// also its message id: handlers record it to ignore a redelivery.
package commands
